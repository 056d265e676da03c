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

// Teams (internal/team): the owner of an application stays Application.owner_id; everyone
// else who helps run it is an AppMember with a role. Invitations and ownership transfers are
// proposals the invited person (or the new owner) confirms while signed in.

// AppMember gives a person other than the owner a role on an application.
type AppMember struct{ ent.Schema }

func (AppMember) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.AppMember}}
}

func (AppMember) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Immutable(),
		field.String("user_id").Immutable(),
		field.Enum("role").Values("admin", "developer", "support"),
		field.String("email").MaxLen(254).Default("").
			Comment("the address the member was invited at (or the old owner's primary address after a transfer): what the team sees of them"),
		field.Time("created_at").Immutable().Default(now),
		field.Time("updated_at").Default(now),
	}
}

func (AppMember) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("application", Application.Type).Ref("members").Field("application_id").Unique().Required().Immutable(),
	}
}

func (AppMember) Indexes() []ent.Index {
	return []ent.Index{index.Fields("application_id", "user_id").Unique(), index.Fields("user_id")}
}

func (AppMember) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// AppInvitation is an owner's or admin's invitation of an address to an application's team.
// Only the token's SHA-256 is stored; it is single use (accepted_at/revoked_at close it) and
// expires. It binds to the address: accepting needs that address verified on the signed-in
// account.
type AppInvitation struct{ ent.Schema }

func (AppInvitation) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.AppInvitation}}
}

func (AppInvitation) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Immutable(),
		field.String("email").NotEmpty().MaxLen(254).Immutable().Comment("normalised invited address"),
		field.Enum("role").Values("admin", "developer", "support").Immutable(),
		field.String("token_hash").Unique().Immutable().Sensitive(),
		field.String("invited_by").Immutable(),
		field.Time("created_at").Immutable().Default(now),
		field.Time("expires_at").Immutable(),
		field.Time("accepted_at").Optional().Nillable(),
		field.String("accepted_by").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

func (AppInvitation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("application_id"),
		index.Fields("email"),
		// The closing of an account revokes the invitations it sent, to every team
		// (team.DeleteUser).
		index.Fields("invited_by"),
	}
}

func (AppInvitation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
