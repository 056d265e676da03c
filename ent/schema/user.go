package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

// User is a LoginSign account.
type User struct{ ent.Schema }

func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.User}, timeMixin{}}
}

func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("global_id").Annotations(renamedInGraphQL("globalId")).Unique().Immutable().
			Match(globalIDRegexp).
			Comment("Global User ID, two letters and four digits, assigned once").
			Annotations(entgql.OrderField("GLOBAL_ID")),
		field.String("email").Unique().NotEmpty().MaxLen(254).
			Comment("primary address, lower-cased"),
		field.Int("email_version").Default(0).
			Comment("bumped when the primary address changes or the person signs out everywhere else; mailbox sign-ins carry it").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("name").Optional().MaxRuneLen(200),
		field.String("image").Optional().MaxLen(2048),
		field.String("region").Optional().MaxLen(100),
		field.String("language").Optional().MaxLen(16).
			Comment("the person's language for pages and mails (en, fr, de); empty: chosen from the request").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("emails", UserEmail.Type).Annotations(entgql.RelayConnection()),
		edge.To("applications", Application.Type).Annotations(entgql.RelayConnection()),
		edge.To("connections", AppConnection.Type).Annotations(entgql.RelayConnection()),
	}
}

func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// UserEmail is an alternative address linked to a user: pending until verified.
type UserEmail struct{ ent.Schema }

func (UserEmail) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.UserEmail}, timeMixin{}}
}

func (UserEmail) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Annotations(renamedInGraphQL("userId")).Immutable(),
		field.String("email").NotEmpty().MaxLen(254),
		field.Time("verified_at").Optional().Nillable(),
	}
}

func (UserEmail) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("emails").Field("user_id").Unique().Required().Immutable(),
	}
}

func (UserEmail) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "email").Unique(),
		index.Fields("email"),
	}
}

func (UserEmail) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

const globalIDPattern = `^[A-Z]{2}[0-9]{4}$`

var globalIDRegexp = regexp.MustCompile(globalIDPattern)
