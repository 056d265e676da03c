package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/user"
	"loginsign/internal/connections"
	"loginsign/internal/store"
)

// UserInfo is GET /api/user: the connection's profile as the application may see it, shaped
// by the scopes the person granted (OpenID Connect Core §5.3.2, §5.4), with the same claims the
// id_token carries. sub and the documented id are the connection id and always present. With
// email: the documented email (the shared address, else the alias) and email_verified. With
// profile: the documented globalId, name and image (name and image null when unset, as
// documented), and the standard picture and global_id (omitted when unset, §5.3.2). A field
// of a scope that was not granted is absent.
type UserInfo struct {
	Subject       string
	Email         string // "" without the email scope
	Profile       bool   // the profile scope was granted
	GlobalID      string
	Name, Picture string
}

// MarshalJSON writes the claims of u that its scopes allow (in the order json.Marshal of a
// map would: sorted names), without building a map.
func (u *UserInfo) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	str := func(name, v string, comma bool) {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendJSONString(b, v)
		if comma {
			b = append(b, ',')
		}
	}
	strOrNull := func(name, v string) {
		if v == "" {
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `":null,`...)
			return
		}
		str(name, v, true)
	}
	if u.Email != "" {
		str("email", u.Email, true)
		b = append(b, `"email_verified":true,`...)
	}
	if u.Profile {
		str("globalId", u.GlobalID, true)
		str("global_id", u.GlobalID, true)
	}
	str("id", u.Subject, true)
	if u.Profile {
		strOrNull("image", u.Picture)
		strOrNull("name", u.Name)
		if u.Picture != "" {
			str("picture", u.Picture, true)
		}
	}
	str("sub", u.Subject, false)
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json does (HTML
// characters and U+2028/U+2029 included).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			v, _ := json.Marshal(s)
			return append(b, v...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// UserInfo validates the Bearer access token raw (personGrant) and returns the profile of its
// connection, limited to the token's scopes.
func (s *Service) UserInfo(ctx context.Context, raw string) (*UserInfo, error) {
	g, p, err := s.personGrant(ctx, raw)
	if err != nil {
		return nil, err
	}
	out := &UserInfo{Subject: g.ConnectionID}
	if slices.Contains(g.Scopes, ScopeEmail) {
		out.Email = connections.AppFacingEmail(p.AppEmail, p.AliasEmail)
	}
	if slices.Contains(g.Scopes, ScopeProfile) {
		out.Profile, out.GlobalID, out.Name, out.Picture = true, p.GlobalID, p.Name, p.Image
	}
	return out, nil
}

// personGrant is the one check of a person's access token, for GET /api/user and every other
// Bearer route (AccessToken): it returns the token's grant and its connection's profile, or
// ErrInvalidToken for a missing, unknown, expired or revoked token, a client_credentials one
// (it acts for no person), a deleted or blocked connection (the active flag only describes
// the connection; signing in again reactivates it), and a connection of an application being
// deleted. The token and the profiles' stamp are read in one round trip, and the profile
// comes from the profile cache when it holds a current entry (see connProfile).
func (s *Service) personGrant(ctx context.Context, raw string) (*accessGrant, connProfile, error) {
	g, stamp, err := s.accessGrantStamped(ctx, raw)
	if err != nil {
		return nil, connProfile{}, err
	}
	if g == nil || g.ConnectionID == "" {
		return nil, connProfile{}, ErrInvalidToken
	}
	p, found, err := s.connProfile(ctx, g.ConnectionID, stamp)
	switch {
	case err != nil:
		return nil, p, serverError(err)
	case !found:
		return nil, p, ErrInvalidToken.WithDescription("the connection was deleted")
	case p.Blocked || p.ApplicationID != g.ApplicationID:
		return nil, p, ErrInvalidToken.WithDescription("the connection is blocked")
	case p.AppDeleting:
		return nil, p, ErrInvalidToken.WithDescription("the application is being deleted")
	}
	return g, p, nil
}

// connProfile is what GET /api/user and introspection read of a connection and its
// account.
type connProfile struct {
	AliasEmail, AppEmail string
	Blocked              bool
	ApplicationID        string
	GlobalID, Name       string
	Image                string
	// AppDeleting is whether the connection's application is being deleted
	// (portal.DeleteApplication): its people's tokens stop at once, not when the deletion's
	// batch reaches their connection.
	AppDeleting bool
}

// ProfileCacheTTL bounds how long a connection's profile is reused. Changes made through
// this process's database client drop the cache at once, and other processes see them by
// the stamp (profileStampKey); the TTL bounds what neither reaches (a stamp that could
// not be advanced while Redis was down, a change made by hand in SQL).
const ProfileCacheTTL = 10 * time.Second

// maxCachedProfiles bounds the profile cache (about 250 bytes an entry).
const maxCachedProfiles = 20000

// profileStampKey is the Redis counter every process advances after a change to accounts,
// connections or applications is committed; a cached profile read under another value is
// not used.
const profileStampKey = "gen:profiles"

// watchProfiles keeps the profile cache honest: every change to users, connections or
// applications made through the service's database client (in or out of a transaction;
// applications because deleting one cascades to its connections) drops the cache, and
// once committed advances the stamp for other processes.
func (s *Service) watchProfiles() {
	s.profiles = store.NewRowCache[connProfile](maxCachedProfiles)
	store.InvalidateOnChange(s.DB, func(ctx context.Context, durable bool) {
		s.profiles.Invalidate()
		if !durable {
			return
		}
		// Short: a write must not wait long on a Redis that is down (the TTL covers that).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 250*time.Millisecond)
		defer cancel()
		if err := s.KV.Incr(ctx, profileStampKey).Err(); err != nil {
			// Other processes keep their entries for at most ProfileCacheTTL.
			slog.WarnContext(ctx, "advancing the profile stamp", "err", err)
		}
	}, ent.TypeUser, ent.TypeAppConnection, ent.TypeApplication)
}

// connProfile returns the profile of the connection id, from the cache when it holds an
// entry read under stamp (see accessGrantStamped) that no change has dropped, else from
// one prepared SQL query joining connection and account. found is false for a connection
// that does not exist.
func (s *Service) connProfile(ctx context.Context, id, stamp string) (p connProfile, found bool, err error) {
	now := time.Now()
	if p, ok := s.profiles.Get(id, stamp, now); ok {
		return p, true, nil
	}
	gen := s.profiles.Generation()
	stmt, err := s.userStmt.get(ctx, s.DB.SQL, func() string {
		c, u := entsql.Table(appconnection.Table).As("c"), entsql.Table(user.Table).As("u")
		a := entsql.Table(application.Table).As("a")
		query, _ := entsql.Dialect(s.DB.Dialect).
			Select(c.C(appconnection.FieldAliasEmail), c.C(appconnection.FieldAppEmail), c.C(appconnection.FieldBlocked),
				c.C(appconnection.FieldApplicationID), u.C(user.FieldGlobalID), u.C(user.FieldName), u.C(user.FieldImage)).
			AppendSelectExpr(entsql.NotNull(a.C(application.FieldDeletingSince))).
			From(c).Join(u).On(c.C(appconnection.FieldUserID), u.C(user.FieldID)).
			Join(a).On(c.C(appconnection.FieldApplicationID), a.C(application.FieldID)).
			Where(entsql.EQ(c.C(appconnection.FieldID), "")).Query()
		return query
	})
	if err != nil {
		return p, false, fmt.Errorf("preparing the connection query: %w", err)
	}
	var name, image entsql.NullString
	err = stmt.QueryRowContext(ctx, id).Scan(&p.AliasEmail, &p.AppEmail, &p.Blocked, &p.ApplicationID, &p.GlobalID, &name, &image, &p.AppDeleting)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("loading connection: %w", err)
	}
	p.Name, p.Image = name.String, image.String
	s.profiles.Put(id, p, gen, stamp, now.Add(ProfileCacheTTL))
	return p, true, nil
}
