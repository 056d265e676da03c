package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"loginsign/internal/ids"
)

// WebhookEvent is the outbox: written in the transaction of the change that causes it, then
// delivered by a worker. Its id is the Standard Webhooks webhook-id, stable across retries.
type WebhookEvent struct{ ent.Schema }

func (WebhookEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.WebhookEvent}}
}

func (WebhookEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("application_id").Annotations(renamedInGraphQL("applicationId")).Immutable(),
		field.String("type").Immutable(),
		field.String("connection_id").Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("the connection the payload is about (connectionId), if any"),
		field.Text("payload").Immutable().Comment("the JSON body, exactly as sent"),
		field.Enum("status").Values("pending", "delivered", "failed", "disabled").Default("pending").
			Annotations(upperSnakeInGraphQL),
		field.Int("attempts").Default(0),
		field.Time("next_attempt_at").Default(now),
		field.Time("locked_until").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("last_error").Optional(),
		field.Int("last_status_code").Optional(),
		field.Time("created_at").Immutable().Default(now).Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("delivered_at").Optional().Nillable(),
	}
}

func (WebhookEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("application", Application.Type).Ref("webhook_events").Field("application_id").Unique().Required().Immutable(),
		edge.To("deliveries", WebhookAttempt.Type).Annotations(entgql.RelayConnection()),
	}
}

func (WebhookEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("application_id", "created_at"),
		// The worker walks the pending streams (an application's pending events of one type)
		// and takes the due head of each, and counts an application's live claims among the
		// locked events alone: neither reads the rest of an application's backlog. Status is a
		// key column, not a partial index's condition: PostgreSQL stores that condition as
		// ((status)::text = 'pending'::text), which SQLite cannot parse, and one that differs
		// from the stored text makes every migration build the index again. No other index
		// starts with status, so none can look as cheap to a planner without statistics
		// (store.Migrate drops the (status, next_attempt_at) one this replaced).
		index.Fields("status", "application_id", "type", "next_attempt_at", "id").StorageKey("webhookevent_streams"),
		index.Fields("application_id", "locked_until").StorageKey("webhookevent_live_claims").
			Annotations(entsql.IndexWhere("locked_until IS NOT NULL")),
		// WithdrawConnection finds a connection's events.
		index.Fields("application_id", "connection_id").Annotations(entsql.IndexWhere("connection_id IS NOT NULL")),
	}
}

func (WebhookEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// WebhookAttempt is one delivery attempt of an event.
type WebhookAttempt struct{ ent.Schema }

func (WebhookAttempt) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.WebhookAttempt}}
}

func (WebhookAttempt) Fields() []ent.Field {
	return []ent.Field{
		field.String("event_id").Annotations(renamedInGraphQL("eventId")).Immutable(),
		field.Int("attempt"),
		field.Int("status_code").Optional(),
		field.String("error").Optional(),
		field.Int("duration_ms").Default(0),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (WebhookAttempt) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("event", WebhookEvent.Type).Ref("deliveries").Field("event_id").Unique().Required().Immutable(),
	}
}

func (WebhookAttempt) Indexes() []ent.Index {
	return []ent.Index{index.Fields("event_id", "attempt")}
}

func (WebhookAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// AuditEvent records who changed what (email changes, deletions, secret rotations).
type AuditEvent struct{ ent.Schema }

func (AuditEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.AuditEvent}}
}

func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor_id").Optional().Comment("user id, client id or empty for the system"),
		field.String("application_id").Optional(),
		field.String("action"),
		field.String("target").Optional(),
		field.JSON("data", map[string]any{}).Optional(),
		field.Time("created_at").Immutable().Default(now),
	}
}

func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("application_id", "created_at"),
		// The closing of an account finds the events it caused or that concern it (actor_id
		// = the user id OR target = the Global User ID, identity.ForgetAddresses): an OR
		// needs an index on each side (PostgreSQL BitmapOr, SQLite MULTI-INDEX OR), or it
		// reads every event of the system.
		index.Fields("actor_id"),
		index.Fields("target"),
		// The hourly purge of the events past the retention period (activity.Purge).
		index.Fields("created_at"),
	}
}

func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
