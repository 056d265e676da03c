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

// Consent records which scopes a person granted an application, so later sign-ins skip the page.
type Consent struct{ ent.Schema }

func (Consent) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.Consent}, timeMixin{}}
}

func (Consent) Fields() []ent.Field {
	return []ent.Field{
		field.String("connection_id").Annotations(renamedInGraphQL("connectionId")).Unique().Immutable(),
		field.Strings("scopes").Default([]string{}).Annotations(entgql.Type("[String!]")),
	}
}

func (Consent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("connection", AppConnection.Type).Ref("consent").Field("connection_id").Unique().Required().Immutable(),
	}
}

// RefreshToken is one row per sign-in (a family of refresh tokens): a rotation bumps its
// generation and replaces current_hash, the hash of the one live token; the tokens carry the
// row's id and their generation, so a spent one is recognised for as long as the row lives
// and its reuse revokes the family (RFC 9700 §4.14).
//
// Rows written before families were one row (current_hash NULL) were one per token: their
// token_hash is the live token until rotated_at is set, and their family_id ties them.
type RefreshToken struct{ ent.Schema }

func (RefreshToken) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.RefreshToken}}
}

func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("token_hash").Unique().Immutable().Sensitive().
			Comment("hash of the family's first token"),
		field.Int("generation").Default(0).
			Comment("rotations so far: the live token is the one of this generation"),
		field.String("current_hash").Optional().Nillable().Sensitive().
			Comment("hash of the live token; NULL on rows of the one-row-per-token layout"),
		field.String("family_id").Immutable(),
		field.String("connection_id").Immutable(),
		field.String("application_id").Immutable(),
		field.Strings("scopes").Default([]string{}),
		field.String("nonce").Optional(),
		field.Time("auth_time").Optional().Nillable(),
		field.Strings("amr").Optional().
			Comment("authentication methods of the sign-in (RFC 8176), carried into refreshed id_tokens"),
		field.Time("created_at").Immutable().Default(now),
		field.Time("expires_at").Comment("absolute expiry of the family"),
		field.Time("rotated_at").Optional().Nillable().
			Comment("the last rotation (on a row of the one-row-per-token layout: when its token was spent)"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("session_line").Optional().Immutable().
			Comment("the line of browser sessions that signed in (identity.Session.Line); ending it revokes the family"),
	}
}

func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("connection", AppConnection.Type).Ref("refresh_tokens").Field("connection_id").Unique().Required().Immutable(),
	}
}

func (RefreshToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("family_id"), index.Fields("connection_id"),
		index.Fields("expires_at"), // the housekeeping's purge of expired families
		index.Fields("session_line")}
}

func (RefreshToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// SigningKey is an ES256 key for id_tokens. Published in the JWKS from created_at, used to sign
// from active_at, and kept published until retired_at.
type SigningKey struct{ ent.Schema }

func (SigningKey) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.SigningKey}}
}

func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("algorithm").Default("ES256"),
		field.Bytes("private_key").Sensitive().Comment("PKCS#8, sealed with the server key"),
		field.Time("created_at").Immutable().Default(now),
		field.Time("active_at"),
		field.Time("retired_at").Optional().Nillable(),
	}
}

func (SigningKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Sequence is a named durable counter with a permutation key (Global User IDs).
type Sequence struct{ ent.Schema }

func (Sequence) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().Immutable(),
		field.Int64("value").Default(0),
		field.Bytes("key").Sensitive().Immutable(),
	}
}

func (Sequence) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
