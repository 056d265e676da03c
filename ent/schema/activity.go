package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

// ActivityEvent is one entry of the activity log (internal/activity): something that happened
// to a person's account or to an application, written in the transaction of the change it
// records and never updated. The person sees the events with their user_id; the application's
// developer those with its application_id. Details hold only allow-listed keys (no secret, no
// other person's data); internal/activity checks them.
type ActivityEvent struct{ ent.Schema }

func (ActivityEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.ActivityEvent}}
}

func (ActivityEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("type").NotEmpty().MaxLen(64).Immutable().Comment("activity.Type, e.g. sign_in"),
		field.Enum("actor").Values("person", "developer", "application", "system").Immutable().
			Comment("who caused it"),
		field.String("user_id").Optional().Immutable().Comment("the person it concerns; empty for app-only events"),
		field.String("application_id").Optional().Immutable().Comment("the application it concerns"),
		field.String("connection_id").Optional().Immutable().Comment("the connection it concerns"),
		field.JSON("details", map[string]string{}).Optional().Immutable(),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (ActivityEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "created_at"),
		index.Fields("application_id", "created_at"),
		index.Fields("created_at"),
	}
}

func (ActivityEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
