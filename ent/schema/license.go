package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

var durations = []string{"MONTH", "YEAR", "LIFETIME"}

// LicenseVariant is a plan of one application (Free, Pro, Team…).
type LicenseVariant struct{ ent.Schema }

func (LicenseVariant) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.LicenseVariant}, timeMixin{}}
}

func (LicenseVariant) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Annotations(renamedInGraphQL("applicationId")).Immutable(),
		field.String("name").NotEmpty().MaxRuneLen(100).Annotations(entgql.OrderField("NAME")),
		field.String("name_key").NotEmpty().MaxRuneLen(100).
			Comment("lower-cased name: unique per application").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("description").Optional().MaxRuneLen(2000),
		field.Enum("duration").Values(durations...).Default("LIFETIME"),
	}
}

func (LicenseVariant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("application", Application.Type).Ref("license_variants").Field("application_id").Unique().Required().Immutable(),
		edge.To("codes", LicenseCode.Type).
			Comment("not in GraphQL: a person holding one code must not list the others").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

func (LicenseVariant) Indexes() []ent.Index {
	return []ent.Index{index.Fields("application_id", "name_key").Unique()}
}

func (LicenseVariant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// LicenseCode belongs to one variant. Redeeming it links it to a connection
// (linkedConnectionId); status sync creates codes with source "status".
type LicenseCode struct{ ent.Schema }

func (LicenseCode) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.LicenseCode}}
}

func (LicenseCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Annotations(renamedInGraphQL("applicationId")).Immutable(),
		field.String("variant_id").Annotations(renamedInGraphQL("variantId")),
		field.String("code").NotEmpty().MaxLen(80).Annotations(entgql.OrderField("CODE")),
		field.String("code_key").NotEmpty().MaxLen(80).
			Comment("upper-cased code without hyphens and spaces: unique per application").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("state").Values("UNUSED", "ACTIVE", "EXPIRED").Default("UNUSED").
			Comment("stored state; callers see the effective state (licenses.EffectiveState), so GraphQL's " +
				"LicenseCode.state is declared in schema/licenses.graphql and resolved from state and expires_at").
			Annotations(entgql.Skip(entgql.SkipType)),
		field.Enum("source").Values("code", "status").Default("code").
			Annotations(upperSnakeInGraphQL),
		field.String("linked_connection_id").Annotations(renamedInGraphQL("linkedConnectionId")).Optional().Nillable().
			StorageKey("linked_connection_id"),
		field.Time("created_at").Immutable().Default(now).Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("activated_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable(),
	}
}

func (LicenseCode) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("application", Application.Type).Ref("license_codes").Field("application_id").Unique().Required().Immutable(),
		edge.From("variant", LicenseVariant.Type).Ref("codes").Field("variant_id").Unique().Required(),
		edge.From("linked_connection", AppConnection.Type).Ref("licenses").Field("linked_connection_id").Unique(),
	}
}

func (LicenseCode) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("application_id", "code_key").Unique(),
		index.Fields("variant_id", "state"),
		index.Fields("linked_connection_id"),
		index.Fields("application_id", "created_at"),
	}
}

func (LicenseCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
