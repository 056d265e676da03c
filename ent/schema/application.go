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

// Application is an OAuth client owned by a developer. Its id is the OAuth client_id.
type Application struct{ ent.Schema }

func (Application) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.Application}, timeMixin{}}
}

func (Application) Fields() []ent.Field {
	return []ent.Field{
		field.String("owner_id").Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("name").NotEmpty().MaxRuneLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("website").Optional().MaxLen(2048),
		field.String("icon_url").Annotations(renamedInGraphQL("iconUrl")).Optional().MaxLen(2048),
		field.String("terms_url").Annotations(renamedInGraphQL("termsUrl")).Optional().MaxLen(2048),
		field.String("privacy_url").Annotations(renamedInGraphQL("privacyUrl")).Optional().MaxLen(2048),
		field.Strings("redirect_uris").Default([]string{}).
			Annotations(entgql.Type("[String!]")),
		field.Strings("allowed_origins").Default([]string{}).
			Comment("browser origins that may frame the embeds (frame-ancestors); CORS is the operator's LOGINSIGN_CORS_ORIGINS only").
			Annotations(entgql.Type("[String!]")),
		field.Int("client_requests_per_minute").Default(60000).Range(1, 1000000).
			Comment("quota of successful client-authenticated requests (token endpoint, app-backend API) per minute; failed ones are limited apart"),
		field.String("secret_hash").Sensitive().
			Comment("SHA-256 of the client secret; the secret itself is shown once").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("webhook_url").Optional().MaxLen(2048).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bytes("webhook_secret").Optional().Sensitive().
			Comment("whsec_ secret, sealed with the server key").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bytes("webhook_previous_secret").Optional().Sensitive().
			Comment("the webhook secret before the last reset, sealed; events are signed with it too until webhook_previous_secret_until").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("webhook_previous_secret_until").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("end of the overlap after a webhook secret reset"),
		field.Time("webhook_disabled_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("set when the receiver answered 410 Gone"),
		field.String("id_token_signing_alg").Default("ES256").MaxLen(16).
			Comment("JWS algorithm of the app's id_tokens and logout tokens: ES256 or RS256").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Strings("post_logout_redirect_uris").Default([]string{}).Optional().
			Comment("where RP-initiated logout may send the person back (OpenID Connect RP-Initiated Logout §3); nullable so the column can be added to existing rows").
			Annotations(entgql.Type("[String!]"), entgql.Skip(entgql.SkipWhereInput)),
		field.String("transfer_to").Optional().Nillable().
			Comment("the member the owner proposed to hand the application over to; set until they accept, it is cancelled or it expires").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("transfer_expires_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("backchannel_logout_uri").Optional().MaxLen(2048).
			Comment("receives logout tokens (OpenID Connect Back-Channel Logout); GraphQL: backchannelLogoutUri").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("require_pushed_authorization_requests").Default(false).
			Comment("the authorization endpoint takes this client's requests only through POST /oauth/par (RFC 9126 §6)").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Time("deleting_since").Optional().Nillable().
			Comment("set by the first transaction of its deletion: from then on the application authenticates nowhere and signs nobody in, while its connections end batch by batch").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

func (Application) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).Ref("applications").Field("owner_id").Unique().Required().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("connections", AppConnection.Type).
			Comment("reached in GraphQL only through portal resolvers that check ownership").
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("license_variants", LicenseVariant.Type).
			Comment("reached in GraphQL only through portal resolvers that check ownership").
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("license_codes", LicenseCode.Type).
			Comment("reached in GraphQL only through portal resolvers that check ownership").
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("import_sources", ImportSource.Type).
			Comment("reached in GraphQL only through portal resolvers that check ownership").
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("members", AppMember.Type).
			Comment("the team besides the owner (internal/team)").
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("webhook_events", WebhookEvent.Type).
			Comment("reached in GraphQL only through portal resolvers that check ownership").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

func (Application) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner_id", "created_at"),
		// The transfers proposed to a person: listed to them (team.ViewerTransfers), dropped
		// and held by the closing of their account (team.DeleteUser, account's
		// writtenByClosing). Only applications with a pending transfer are in it.
		index.Fields("transfer_to").Annotations(entsql.IndexWhere("transfer_to IS NOT NULL")),
	}
}

func (Application) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// AppConnection links one user to one application: the per-app identity an app sees.
// (Not "Connection": Relay would then call its list type ConnectionConnection.)
type AppConnection struct{ ent.Schema }

func (AppConnection) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{prefix: ids.Connection}, timeMixin{}}
}

func (AppConnection) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Immutable().
			Comment("internal: the same person has one user_id across apps, so it never reaches a developer").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("application_id").Annotations(renamedInGraphQL("applicationId")).Immutable(),
		field.String("alias_email").Unique().Immutable().NotEmpty().MaxLen(254).
			Comment("masked relay address, never reissued"),
		field.String("app_email").Optional().MaxLen(254).
			Comment("a real address the person chose to share with the app (consent page); empty when none"),
		field.String("developer_email").Optional().MaxLen(254).
			Comment("the developer's own record of the person's address (PATCH appEmail): stored, never shown to LoginSign's relay or the person's other apps, never checked against the person's addresses"),
		field.Bool("is_forwarding").Default(true),
		field.Bool("email_muted").Default(false).
			Comment("the person muted relay mail for this app; GraphQL shows the effective emailMuted (muted or not forwarding) through a portal resolver").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("blocked").Default(false),
		field.Bool("active").Default(true),
		field.Int("login_count").Default(0).
			Annotations(entgql.OrderField("LOGIN_COUNT")),
		field.Time("last_session_at").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_SESSION_AT")),
		field.Time("joined_at").Default(now).
			Annotations(entgql.OrderField("JOINED_AT")),
		field.String("region").Optional().MaxLen(100),
		field.String("external_user_id").Annotations(renamedInGraphQL("externalUserId")).Optional().MaxLen(255),
		field.String("import_source_id").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("the import run that created this connection, for rollback"),
	}
}

func (AppConnection) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("connections").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.From("application", Application.Type).Ref("connections").Field("application_id").Unique().Required().Immutable(),
		edge.From("import_source", ImportSource.Type).Ref("created_connections").Field("import_source_id").Unique().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("consent", Consent.Type).Unique(),
		edge.To("refresh_tokens", RefreshToken.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("licenses", LicenseCode.Type).Annotations(entgql.RelayConnection()),
	}
}

func (AppConnection) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "application_id").Unique(),
		// The portal's user list pages by (order field, id) inside one application, and its
		// analytics group inside one application: each index below serves one of them.
		index.Fields("application_id", "joined_at", "id"),
		index.Fields("application_id", "last_session_at", "id"),
		index.Fields("application_id", "login_count", "id"),
		index.Fields("application_id", "region"),
		index.Fields("import_source_id"),
		// keyset pages of GET /api/applications/:appId/users (ordered by id) without a sort
		index.Fields("application_id", "id"),
	}
}

func (AppConnection) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// RetiredAlias keeps the relay addresses of deleted connections so that none is issued again.
type RetiredAlias struct{ ent.Schema }

func (RetiredAlias) Fields() []ent.Field {
	return []ent.Field{
		field.String("address").Unique().Immutable(),
		field.Time("retired_at").Default(now).Immutable(),
	}
}

func (RetiredAlias) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
