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

// RelayContact is a reverse alias of the inbound relay: mail forwarded from contact_address to
// a connection's owner carries Reply-To r-<token>@<relay-domain>, and a reply to that address
// is sent back to contact_address from the connection's alias. Rows go with their connection
// (ON DELETE CASCADE), so a deleted connection's reverse aliases stop working at once.
type RelayContact struct{ ent.Schema }

func (RelayContact) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.RelayContact}}
}

func (RelayContact) Fields() []ent.Field {
	return []ent.Field{
		field.String("connection_id").Immutable(),
		field.String("contact_address").NotEmpty().MaxLen(254).Immutable().
			Comment("the original sender, lower-cased"),
		field.String("token").Unique().NotEmpty().MaxLen(64).Immutable().
			Comment("local part after r- of the reverse alias"),
		field.Time("created_at").Immutable().Default(now),
		field.Time("last_used_at").Default(now),
		// A reply is authenticated as the person's (relay.authorizeReplies), so a sender cannot
		// set it: the contact limit replaces contacts the person never answered first.
		field.Time("replied_at").Optional().Nillable().
			Comment("when the person last replied through this reverse alias"),
	}
}

func (RelayContact) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("connection", AppConnection.Type).Field("connection_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func (RelayContact) Indexes() []ent.Index {
	return []ent.Index{index.Fields("connection_id", "contact_address").Unique(),
		// The contact limit counts a connection's reverse aliases and picks the least recently
		// used of them (relay.Server.makeRoomForContact): index scans of at most the limit.
		index.Fields("connection_id", "last_used_at"),
		// The hourly housekeeping deletes reverse aliases unused for a year (relay.PurgeContacts).
		index.Fields("last_used_at")}
}

func (RelayContact) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
