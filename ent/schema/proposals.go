package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

// The rule these entities serve: a developer can propose, only the person can change. What a
// developer sends about a person is stored as a proposal, and only the person's confirmation
// (from their mailbox and their signed-in session) turns it into a change.

// AddressClaim records that an address (a primary or a verified alternative, trimmed and
// lower-cased) belongs to one account. Its unique index is what makes "an address belongs to
// at most one account" hold under concurrent attempts: every path that gives an account an
// address inserts a claim in the same transaction.
// Its key is an internal integer: claims never leave the process, and the migration backfills
// them with plain SQL.
type AddressClaim struct{ ent.Schema }

func (AddressClaim) Fields() []ent.Field {
	return []ent.Field{
		field.String("address").Unique().Immutable().NotEmpty().MaxLen(254),
		field.String("user_id").Immutable(),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (AddressClaim) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

func (AddressClaim) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// EmailChange is a developer's request (the email-sync API) to change a person's primary
// address. It changes nothing until the person confirms it: the link mailed to the new address,
// opened in a browser signed in to the account, POSTs the confirmation. The old primary gets a
// notice whose link cancels it. Tokens are stored as SHA-256 only.
type EmailChange struct{ ent.Schema }

func (EmailChange) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.EmailChange}}
}

func (EmailChange) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Immutable(),
		field.String("application_id").Optional().Immutable().
			Comment("the application that asked; its name is shown to the person"),
		field.String("application_name").Optional().MaxRuneLen(200).Immutable(),
		field.String("new_email").NotEmpty().MaxLen(254).Immutable(),
		field.String("old_email").NotEmpty().MaxLen(254).Immutable(),
		field.String("confirm_hash").Unique().Immutable().Sensitive(),
		field.String("cancel_hash").Unique().Immutable().Sensitive(),
		field.Enum("status").Values("pending", "confirmed", "cancelled", "superseded", "failed").Default("pending"),
		field.Time("created_at").Immutable().Default(now),
		field.Time("expires_at").Immutable(),
		field.Time("closed_at").Optional().Nillable(),
	}
}

func (EmailChange) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "status"),
		// The deletion of an application deletes its requests (portal's DeleteApplication).
		index.Fields("application_id"),
		// The housekeeping's purge of requests past their retention (identity.PurgeEmailChanges).
		index.Fields("expires_at"),
	}
}

func (EmailChange) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// PendingLink is an import row's proposal that the person with this address is the
// developer's user externalUserId. It is stored whether or not any account holds the address
// (so the import answer says nothing about who has an account), reaches nobody's connection
// list, and becomes a connection only when the person signs in to the application and agrees.
// The person sees it on their dashboard (matched by their verified addresses) and may refuse
// it.
type PendingLink struct{ ent.Schema }

func (PendingLink) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.PendingLink}}
}

func (PendingLink) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Immutable(),
		field.String("email").NotEmpty().MaxLen(254).Immutable().Comment("normalised address the developer sent"),
		field.String("external_user_id").MaxLen(255),
		field.String("name").Optional().MaxRuneLen(200).Comment("the name the developer sent; shown to the person only"),
		field.Time("registered_at").Optional().Nillable(),
		field.Time("last_login_at").Optional().Nillable(),
		field.String("import_source_id").Optional().Nillable().Comment("the run that last proposed it, for rollback"),
		field.Time("created_at").Immutable().Default(now),
		field.Time("updated_at").Default(now),
		field.Time("refused_at").Optional().Nillable().Comment("the person refused it; re-runs keep it refused"),
	}
}

func (PendingLink) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("application_id", "email").Unique(),
		index.Fields("email"),
		index.Fields("import_source_id"),
	}
}

func (PendingLink) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
