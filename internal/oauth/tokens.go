package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/refreshtoken"
	"loginsign/ent/user"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
)

// TokenRequest is a parsed token request (RFC 6749 §4.1.3, §6).
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
}

// ParseTokenRequest parses the form of a token request. A repeated parameter is an
// invalid_request (RFC 6749 §3.2); so is a missing grant_type.
func ParseTokenRequest(form url.Values) (*TokenRequest, error) {
	for k, v := range form {
		if len(v) > 1 {
			return nil, ErrInvalidRequest.WithDescription("%s must not be repeated", truncate(k, 40))
		}
		if len(v[0]) > 4096 {
			return nil, ErrInvalidRequest.WithDescription("%s is too long", truncate(k, 40))
		}
	}
	r := &TokenRequest{
		GrantType: form.Get("grant_type"), Code: form.Get("code"), RedirectURI: form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"), RefreshToken: form.Get("refresh_token"), Scope: form.Get("scope"),
	}
	switch r.GrantType {
	case "":
		return nil, ErrInvalidRequest.WithDescription("grant_type is required")
	case "authorization_code":
		if r.Code == "" {
			return nil, ErrInvalidRequest.WithDescription("code is required")
		}
		if r.RedirectURI == "" {
			return nil, ErrInvalidRequest.WithDescription("redirect_uri is required (the value sent to /oauth/authorize)")
		}
		if r.CodeVerifier != "" && !validVerifier(r.CodeVerifier) {
			return nil, ErrInvalidRequest.WithDescription("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")
		}
	case "refresh_token":
		if r.RefreshToken == "" {
			return nil, ErrInvalidRequest.WithDescription("refresh_token is required")
		}
	case "client_credentials":
	default:
		return nil, ErrUnsupportedGrantType
	}
	return r, nil
}

// TokenResponse is the successful answer of RFC 6749 §5.1 (plus id_token, OpenID Connect
// Core §3.1.3.3).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token,omitempty"`
}

// Token runs the token endpoint: client authentication (with its limits: failed attempts
// per client and per address, successful ones by the application's quota), then the grant.
func (s *Service) Token(ctx context.Context, creds ClientCredentials, form url.Values) (*TokenResponse, error) {
	app, err := s.AuthenticateClient(ctx, creds)
	if err != nil {
		return nil, err
	}
	req, err := ParseTokenRequest(form)
	if err != nil {
		return nil, err
	}
	switch req.GrantType {
	case "authorization_code":
		return s.exchangeCode(ctx, app, req)
	case "client_credentials":
		return s.clientCredentials(ctx, app, req)
	default:
		return s.refresh(ctx, app, req)
	}
}

// exchangeCode is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (s *Service) exchangeCode(ctx context.Context, app *ent.Application, req *TokenRequest) (*TokenResponse, error) {
	g, replayed, err := s.redeemCode(ctx, req.Code)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, ErrInvalidGrant.WithDescription("the authorization code is invalid or has expired")
	}
	if replayed {
		// RFC 6749 §4.1.2: a code used twice revokes the tokens it issued.
		if err := s.revokeFamily(ctx, g.Family); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the authorization code was already used; the tokens it issued are revoked")
	}
	if g.ApplicationID != app.ID {
		return nil, ErrInvalidGrant.WithDescription("the authorization code was issued to another client")
	}
	if g.RedirectURI != req.RedirectURI {
		return nil, ErrInvalidGrant.WithDescription("redirect_uri does not match the authorization request")
	}
	switch {
	case g.Challenge != "" && req.CodeVerifier == "":
		return nil, ErrInvalidGrant.WithDescription("code_verifier is required: the authorization request sent a code_challenge")
	case g.Challenge == "" && req.CodeVerifier != "":
		return nil, ErrInvalidGrant.WithDescription("code_verifier sent but the authorization request had no code_challenge")
	case g.Challenge != "" && !s.Equal(S256(req.CodeVerifier), g.Challenge):
		return nil, ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	conn, err := s.liveConnection(ctx, g.ConnectionID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	resp, err := s.issue(ctx, app, conn, grant{Scopes: g.Scopes, Family: g.Family, Nonce: g.Nonce,
		AuthTime: time.Unix(g.AuthTime, 0), ExpiresAt: now.Add(s.Config.RefreshTokenTTL)}, true)
	if err != nil {
		return nil, err
	}
	// A replay that raced this exchange revoked the family before its tokens existed; finish
	// the job so the stolen code issues nothing usable.
	if n, _ := s.KV.Exists(ctx, revokedFamilyKey(g.Family)).Result(); n > 0 {
		s.revokeFamily(ctx, g.Family)
	}
	return resp, nil
}

// grant is what one issuance is for.
type grant struct {
	Scopes    []string
	Family    string
	Nonce     string
	AuthTime  time.Time
	ExpiresAt time.Time // of the refresh-token family
}

// issue creates an access token, a refresh token of the family when withRefresh (always, in
// practice: rotation issues a new one), and an id_token for openid.
func (s *Service) issue(ctx context.Context, app *ent.Application, conn *ent.AppConnection, g grant, withRefresh bool) (*TokenResponse, error) {
	now := s.Now()
	resp := &TokenResponse{TokenType: "Bearer", ExpiresIn: int(s.Config.AccessTokenTTL / time.Second), Scope: strings.Join(g.Scopes, " ")}
	if withRefresh {
		resp.RefreshToken = ids.Secret(RefreshTokenPrefix)
		create := s.DB.RefreshToken.Create().SetTokenHash(ids.Hash(resp.RefreshToken)).SetFamilyID(g.Family).
			SetConnectionID(conn.ID).SetApplicationID(app.ID).SetScopes(g.Scopes).SetNonce(g.Nonce).
			SetCreatedAt(now).SetExpiresAt(g.ExpiresAt)
		if !g.AuthTime.IsZero() {
			create.SetAuthTime(g.AuthTime)
		}
		if err := create.Exec(ctx); err != nil {
			return nil, serverError(fmt.Errorf("storing refresh token: %w", err))
		}
	}
	var err error
	if resp.AccessToken, err = s.storeAccessToken(ctx, accessGrant{ApplicationID: app.ID, ConnectionID: conn.ID,
		UserID: conn.UserID, Scopes: g.Scopes, Family: g.Family, IssuedAt: now.Unix(),
		ExpiresAt: now.Add(s.Config.AccessTokenTTL).Unix()}); err != nil {
		return nil, err
	}
	if slices.Contains(g.Scopes, ScopeOpenID) {
		if resp.IDToken, err = s.idToken(ctx, app, conn, g, now); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// errReuse marks a refresh token presented after rotation.
var errReuse = errors.New("refresh token reuse")

// refresh is the refresh_token grant (RFC 6749 §6) with rotation: the presented token is spent
// and a new one of the same family issued; presenting a spent token again revokes the whole
// family (RFC 9700 §4.14.2). The family's absolute expiry never moves.
func (s *Service) refresh(ctx context.Context, app *ent.Application, req *TokenRequest) (*TokenResponse, error) {
	now := s.Now()
	var rt *ent.RefreshToken
	var conn *ent.AppConnection
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		var err error
		rt, err = tx.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(req.RefreshToken))).Only(ctx)
		if ent.IsNotFound(err) {
			return ErrInvalidGrant.WithDescription("the refresh token is invalid")
		}
		if err != nil {
			return serverError(err)
		}
		if rt.ApplicationID != app.ID {
			return ErrInvalidGrant.WithDescription("the refresh token was issued to another client")
		}
		if rt.RevokedAt != nil {
			return ErrInvalidGrant.WithDescription("the refresh token was revoked")
		}
		if rt.RotatedAt != nil {
			return errReuse
		}
		if !now.Before(rt.ExpiresAt) {
			return ErrInvalidGrant.WithDescription("the refresh token has expired; sign in again")
		}
		// Spend it; a concurrent use of the same token finds it spent (and is a reuse).
		n, err := tx.RefreshToken.Update().Where(refreshtoken.ID(rt.ID), refreshtoken.RotatedAtIsNil(), refreshtoken.RevokedAtIsNil()).
			SetRotatedAt(now).Save(ctx)
		if err != nil {
			return serverError(err)
		}
		if n != 1 {
			return errReuse
		}
		conn, err = tx.AppConnection.Get(ctx, rt.ConnectionID)
		if ent.IsNotFound(err) {
			return ErrInvalidGrant.WithDescription("the connection was deleted")
		}
		if err != nil {
			return serverError(err)
		}
		if conn.Blocked {
			return ErrInvalidGrant.WithDescription("sign-in to this app is blocked for this account")
		}
		return nil
	})
	if errors.Is(err, errReuse) {
		if err := s.revokeFamily(ctx, rt.FamilyID); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was already used; every token of this sign-in is revoked")
	}
	if err != nil {
		return nil, err
	}
	scopes := rt.Scopes
	if req.Scope != "" {
		asked, serr := ParseScopes(req.Scope)
		if serr != nil {
			return nil, serr
		}
		for _, sc := range asked {
			if !slices.Contains(rt.Scopes, sc) {
				return nil, ErrInvalidScope.WithDescription("scope %q was not granted", sc)
			}
		}
		scopes = asked
	}
	g := grant{Scopes: scopes, Family: rt.FamilyID, Nonce: rt.Nonce, ExpiresAt: rt.ExpiresAt}
	if rt.AuthTime != nil {
		g.AuthTime = *rt.AuthTime
	}
	return s.issue(ctx, app, conn, g, true)
}

// liveConnection loads a connection that may still sign in.
func (s *Service) liveConnection(ctx context.Context, id string) (*ent.AppConnection, error) {
	conn, err := s.DB.AppConnection.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidGrant.WithDescription("the connection was deleted")
	}
	if err != nil {
		return nil, serverError(err)
	}
	if conn.Blocked {
		return nil, ErrInvalidGrant.WithDescription("sign-in to this app is blocked for this account")
	}
	return conn, nil
}

// accessGrant is an access token's grant, stored in Redis under the token's hash with a TTL
// of expires_in.
type accessGrant struct {
	ApplicationID string   `json:"a"`
	ConnectionID  string   `json:"c"`
	UserID        string   `json:"u"`
	Scopes        []string `json:"s"`
	Family        string   `json:"f"`
	IssuedAt      int64    `json:"i"`
	ExpiresAt     int64    `json:"e"`
}

func accessKey(hash string) string          { return "at:" + hash }
func familyTokensKey(family string) string  { return "fat:" + family }
func revokedFamilyKey(family string) string { return "frv:" + family }

func (s *Service) storeAccessToken(ctx context.Context, g accessGrant) (string, error) {
	raw := ids.Secret(AccessTokenPrefix)
	h := ids.Hash(raw)
	b, _ := json.Marshal(g)
	pipe := s.KV.TxPipeline()
	pipe.Set(ctx, accessKey(h), b, s.Config.AccessTokenTTL)
	pipe.SAdd(ctx, familyTokensKey(g.Family), h)
	pipe.Expire(ctx, familyTokensKey(g.Family), s.Config.AccessTokenTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", serverError(fmt.Errorf("storing access token: %w", err))
	}
	return raw, nil
}

func (s *Service) accessGrant(ctx context.Context, raw string) (*accessGrant, error) {
	if raw == "" || len(raw) > 128 || !strings.HasPrefix(raw, AccessTokenPrefix) {
		return nil, nil
	}
	b, err := s.KV.Get(ctx, accessKey(ids.Hash(raw))).Bytes()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, serverError(fmt.Errorf("reading access token: %w", err))
	}
	g := &accessGrant{}
	if err := json.Unmarshal(b, g); err != nil {
		return nil, serverError(fmt.Errorf("reading access token: %w", err))
	}
	if s.Now().Unix() >= g.ExpiresAt {
		return nil, nil
	}
	return g, nil
}

// AccessToken validates a Bearer access token (RFC 6750) and returns its grant. A missing,
// unknown, expired or revoked token answers ErrInvalidToken. The connection is not loaded
// here; User does that on every call, so a deleted or blocked connection stops working.
func (s *Service) AccessToken(ctx context.Context, raw string) (auth.Token, error) {
	g, err := s.accessGrant(ctx, raw)
	if err != nil {
		return auth.Token{}, err
	}
	if g == nil || g.ConnectionID == "" { // a client_credentials token acts for no person
		return auth.Token{}, ErrInvalidToken
	}
	return auth.Token{ApplicationID: g.ApplicationID, ConnectionID: g.ConnectionID, UserID: g.UserID, Scopes: g.Scopes}, nil
}

// revokeFamily revokes every token of a sign-in: its refresh tokens (SQL) and its access
// tokens (Redis). It also leaves a marker so tokens issued concurrently are caught.
func (s *Service) revokeFamily(ctx context.Context, family string) error {
	now := s.Now()
	if err := s.KV.Set(ctx, revokedFamilyKey(family), 1, s.Config.CodeTTL+time.Minute).Err(); err != nil {
		return serverError(err)
	}
	if _, err := s.DB.RefreshToken.Update().Where(refreshtoken.FamilyID(family), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(now).Save(ctx); err != nil {
		return serverError(fmt.Errorf("revoking refresh tokens: %w", err))
	}
	hashes, err := s.KV.SMembers(ctx, familyTokensKey(family)).Result()
	if err != nil {
		return serverError(err)
	}
	keys := []string{familyTokensKey(family)}
	for _, h := range hashes {
		keys = append(keys, accessKey(h))
	}
	if err := s.KV.Del(ctx, keys...).Err(); err != nil {
		return serverError(err)
	}
	return nil
}

// UserInfo is GET /api/user: the connection's profile as the application may see it.
type UserInfo struct {
	ID       string  `json:"id"`
	GlobalID string  `json:"globalId"`
	Name     *string `json:"name"`
	Email    string  `json:"email"`
	Image    *string `json:"image"`
}

// User returns the profile of the token's connection. The connection is loaded on every call
// (one SQL query joining connection and account): a deleted or blocked connection answers
// ErrInvalidToken (the active flag only describes the connection; signing in again
// reactivates it).
func (s *Service) User(ctx context.Context, tok auth.Token) (*UserInfo, error) {
	c, u := entsql.Table(appconnection.Table).As("c"), entsql.Table(user.Table).As("u")
	query, args := entsql.Dialect(s.DB.Dialect).
		Select(c.C(appconnection.FieldAliasEmail), c.C(appconnection.FieldAppEmail), c.C(appconnection.FieldBlocked),
			c.C(appconnection.FieldApplicationID), u.C(user.FieldGlobalID), u.C(user.FieldName), u.C(user.FieldImage)).
		From(c).Join(u).On(c.C(appconnection.FieldUserID), u.C(user.FieldID)).
		Where(entsql.EQ(c.C(appconnection.FieldID), tok.ConnectionID)).Query()
	var conn ent.AppConnection
	var out UserInfo
	var name, image entsql.NullString
	err := s.DB.SQL.QueryRowContext(ctx, query, args...).Scan(&conn.AliasEmail, &conn.AppEmail, &conn.Blocked,
		&conn.ApplicationID, &out.GlobalID, &name, &image)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalidToken.WithDescription("the connection was deleted")
	}
	if err != nil {
		return nil, serverError(fmt.Errorf("loading connection: %w", err))
	}
	if conn.Blocked || conn.ApplicationID != tok.ApplicationID {
		return nil, ErrInvalidToken.WithDescription("the connection is blocked")
	}
	out.ID, out.Email = tok.ConnectionID, connectionEmail(&conn)
	if name.Valid && name.String != "" {
		out.Name = &name.String
	}
	if image.Valid && image.String != "" {
		out.Image = &image.String
	}
	return &out, nil
}

// connectionEmail is the address the application sees: the shared address, else the alias.
func connectionEmail(c *ent.AppConnection) string {
	if c.AppEmail != "" {
		return c.AppEmail
	}
	return c.AliasEmail
}
