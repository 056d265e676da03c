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

// ImportSource is one stored import run, kept for audit and rollback.
type ImportSource struct{ ent.Schema }

func (ImportSource) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.ImportSource}}
}

func (ImportSource) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Annotations(renamedInGraphQL("applicationId")).Immutable(),
		field.String("name").MaxRuneLen(200),
		field.Enum("kind").Values("json", "csv").Default("json").
			Annotations(upperSnakeInGraphQL),
		field.Int("total").Default(0),
		field.JSON("counts", map[string]int{}).Optional().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("created_at").Immutable().Default(now).Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("rolled_back_at").Optional().Nillable(),
	}
}

func (ImportSource) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("application", Application.Type).Ref("import_sources").Field("application_id").Unique().Required().Immutable(),
		edge.To("rows", ImportRow.Type).Annotations(entgql.RelayConnection()),
		edge.To("created_connections", AppConnection.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

func (ImportSource) Indexes() []ent.Index {
	// An application's runs, newest first (portal's ImportSources), and the ones its deletion
	// deletes, which the deletion of the application row checks for too (the foreign key).
	return []ent.Index{index.Fields("application_id", "created_at")}
}

func (ImportSource) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// ImportRow is the outcome of one row of an import run.
type ImportRow struct{ ent.Schema }

func (ImportRow) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.ImportRow}}
}

func (ImportRow) Fields() []ent.Field {
	return []ent.Field{
		field.String("source_id").Annotations(renamedInGraphQL("sourceId")).Immutable(),
		field.Int("row"),
		field.String("external_user_id").Annotations(renamedInGraphQL("externalUserId")).Optional().MaxLen(255),
		field.String("email").Optional().MaxLen(254),
		field.Enum("status").Values("imported", "already_connected", "not_found", "name_mismatch", "invalid_row").
			Annotations(upperSnakeInGraphQL),
		field.String("connection_id").Annotations(renamedInGraphQL("connectionId")).Optional().Nillable().
			Comment("set only for already_connected rows: the connection the person made themselves"),
		field.String("global_id").Optional().
			Comment("legacy: runs before pending links stored the Global User ID; never answered").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("message").Optional(),
	}
}

func (ImportRow) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("source", ImportSource.Type).Ref("rows").Field("source_id").Unique().Required().Immutable(),
	}
}

func (ImportRow) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source_id", "row")}
}

func (ImportRow) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
