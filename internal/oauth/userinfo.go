package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/user"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
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

// User returns the profile of the token's connection, limited to the token's scopes. The
// connection is loaded on every call (one SQL query joining connection and account): a
// deleted or blocked connection answers ErrInvalidToken (the active flag only describes the
// connection; signing in again reactivates it).
func (s *Service) User(ctx context.Context, tok auth.Token) (*UserInfo, error) {
	stmt, err := s.userStmt.get(ctx, s.DB.SQL, func() string {
		c, u := entsql.Table(appconnection.Table).As("c"), entsql.Table(user.Table).As("u")
		query, _ := entsql.Dialect(s.DB.Dialect).
			Select(c.C(appconnection.FieldAliasEmail), c.C(appconnection.FieldAppEmail), c.C(appconnection.FieldBlocked),
				c.C(appconnection.FieldApplicationID), u.C(user.FieldGlobalID), u.C(user.FieldName), u.C(user.FieldImage)).
			From(c).Join(u).On(c.C(appconnection.FieldUserID), u.C(user.FieldID)).
			Where(entsql.EQ(c.C(appconnection.FieldID), "")).Query()
		return query
	})
	if err != nil {
		return nil, serverError(fmt.Errorf("preparing the connection query: %w", err))
	}
	var conn ent.AppConnection
	var globalID string
	var name, image entsql.NullString
	err = stmt.QueryRowContext(ctx, tok.ConnectionID).Scan(&conn.AliasEmail, &conn.AppEmail, &conn.Blocked,
		&conn.ApplicationID, &globalID, &name, &image)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalidToken.WithDescription("the connection was deleted")
	}
	if err != nil {
		return nil, serverError(fmt.Errorf("loading connection: %w", err))
	}
	if conn.Blocked || conn.ApplicationID != tok.ApplicationID {
		return nil, ErrInvalidToken.WithDescription("the connection is blocked")
	}
	out := &UserInfo{Subject: tok.ConnectionID}
	if slices.Contains(tok.Scopes, ScopeEmail) {
		out.Email = connections.AppFacingEmail(conn.AppEmail, conn.AliasEmail)
	}
	if slices.Contains(tok.Scopes, ScopeProfile) {
		out.Profile, out.GlobalID, out.Name, out.Picture = true, globalID, name.String, image.String
	}
	return out, nil
}
