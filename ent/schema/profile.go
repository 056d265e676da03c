package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"loginsign/internal/ids"
)

// ProfilePicture is a person's picture as LoginSign re-encoded it (JPEG, at most 256×256),
// served at /pictures/{id}. A new upload is a new row (a new URL); the old row is deleted.
type ProfilePicture struct{ ent.Schema }

func (ProfilePicture) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.ProfilePicture}}
}

func (ProfilePicture) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Unique().Immutable(),
		field.String("content_type").Immutable(),
		field.Bytes("data").Immutable().MaxLen(1 << 20),
		field.String("sha256").Immutable().Comment("hex digest of data, the ETag"),
		field.Int("width").Immutable(),
		field.Int("height").Immutable(),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (ProfilePicture) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
