package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

// QueuedMail is a notice LoginSign owes someone (a security notice of an account, a notice of
// an application), kept from the moment the change that causes it has committed until the mail
// server takes it (internal/mailqueue): a mail server down for a while, or a restart, delays a
// notice instead of losing it. The message is sealed: it may carry a link that acts (the undo
// link of an authenticator app added).
type QueuedMail struct{ ent.Schema }

func (QueuedMail) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.QueuedMail}}
}

func (QueuedMail) Fields() []ent.Field {
	return []ent.Field{
		field.String("kind").MaxLen(64).Immutable().Comment("mail.Message.Kind, for the log"),
		field.Bytes("message").Immutable().Comment("the mail.Message as JSON, sealed"),
		field.Int("attempts").Default(0).Comment("tries that failed so far"),
		field.Time("next_attempt_at").Default(now),
		field.Time("locked_until").Optional().Nillable().Comment("a worker is sending it until then"),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (QueuedMail) Indexes() []ent.Index {
	return []ent.Index{index.Fields("next_attempt_at")}
}

func (QueuedMail) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
