package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

// TOTPFactor is a person's authenticator app (RFC 6238): at most one per account, present
// only once confirmed with a first code. The shared secret is sealed with the server secret.
type TOTPFactor struct{ ent.Schema }

func (TOTPFactor) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.TOTPFactor}, timeMixin{}}
}

func (TOTPFactor) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Unique().Immutable(),
		field.Bytes("secret_sealed").Sensitive().Immutable(),
		field.Int64("last_counter").Default(0).
			Comment("time step of the last accepted code: a code is accepted once (RFC 6238 §5.2)"),
	}
}

func (TOTPFactor) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// RecoveryCode is one single-use recovery code of a person with two-step verification, stored
// by its hash; using it deletes the row.
type RecoveryCode struct{ ent.Schema }

func (RecoveryCode) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.RecoveryCode}}
}

func (RecoveryCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Immutable(),
		field.String("code_hash").Immutable().Sensitive(),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (RecoveryCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "code_hash").Unique()}
}

func (RecoveryCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Passkey is a WebAuthn credential of a person (a discoverable credential, user verification
// required).
type Passkey struct{ ent.Schema }

func (Passkey) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.Passkey}, timeMixin{}}
}

func (Passkey) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Immutable(),
		field.String("name").MaxRuneLen(64),
		field.Bytes("credential_id").Unique().Immutable().MaxLen(1023),
		field.Bytes("public_key").Immutable(),
		field.String("attestation_type").Optional(),
		field.Bytes("aaguid").Optional(),
		field.Strings("transports").Optional(),
		field.Uint32("sign_count").Default(0),
		field.Bool("backup_eligible").Default(false),
		field.Bool("backup_state").Default(false),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

func (Passkey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

func (Passkey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
