package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/ent/refreshtoken"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
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
		AuthTime: time.Unix(g.AuthTime, 0), ExpiresAt: now.Add(s.Config.RefreshTokenTTL),
		AMR: g.AMR, ACR: mfa.ACR(g.AMR)}, true)
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
	// AMR and ACR describe the sign-in, for the id_token; the refresh-token row keeps AMR, so
	// a refreshed id_token reports the original sign-in.
	AMR []string
	ACR string
	// user is the connection's account when it was loaded already (its profile claims).
	user *ent.User
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
		if len(g.AMR) > 0 {
			create.SetAmr(g.AMR)
		}
		rt, err := create.Save(ctx)
		if err != nil {
			return nil, serverError(fmt.Errorf("storing refresh token: %w", err))
		}
		s.keepRefreshRow(rt, conn.UserID, now)
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

// errRaced marks a rotation that lost a race for the same token; it is run again, and then
// finds the token rotated.
var errRaced = errors.New("refresh token rotated concurrently")

// refresh is the refresh_token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): the
// presented token is spent and a new one of the same family issued, in one SQL transaction
// that also writes the new access token to Redis before it commits; the family's absolute
// expiry never moves.
//
// Every check that can refuse the request, the scope of §6 included (a wider scope answers
// invalid_scope), runs before the token is spent, so a refused request leaves it usable.
//
// The successor tokens are derived from the presented one under the rotation key
// (successorTokens), so a retry of a rotation whose answer was lost gets the same pair: within
// Config.RefreshGrace of the rotation, from the same client, while the successor is unused and
// unrevoked, presenting the spent token again answers the same access and refresh token (a
// retry asking for another scope answers invalid_grant and changes nothing). Any other use of
// a spent token is reuse: the whole family is revoked.
func (s *Service) refresh(ctx context.Context, app *ent.Application, req *TokenRequest) (*TokenResponse, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.rotate(ctx, app, req.RefreshToken, req.Scope, attempt == 0)
		if errors.Is(err, errRaced) && attempt < 2 {
			continue
		}
		if errors.Is(err, errRaced) {
			return nil, serverError(err)
		}
		return resp, err
	}
}

// rotation is what one rotation produced, for the answer.
type rotation struct {
	conn        *ent.AppConnection
	grant       grant
	access      string
	refresh     string
	accessUntil time.Time
}

// rotate runs one attempt of refresh. The token and its connection are read and every check
// made before the write transaction, which only spends the token (a conditional UPDATE: a
// concurrent rotation or revocation since the read makes it touch nothing, and the attempt
// runs again) and inserts its successor: SQLite has one writer, and the shorter the write,
// the more rotations a second. The access token is written to Redis after the commit, in
// one pipeline that also looks for a revocation of the family meanwhile; if that write
// fails, the rotation is undone (the token is unspent again) and the client's retry rotates
// afresh to the same tokens; were the undo to fail too, the retry is still answered within
// the grace window (retryOrReuse rewrites the access token).
//
// The first attempt takes the token's row from refreshRows when this process issued it; a
// write that then touches nothing (the token spent or revoked, the connection blocked or
// gone since) makes the next attempt read it, and answer by what it finds.
func (s *Service) rotate(ctx context.Context, app *ent.Application, raw, asked string, kept bool) (*TokenResponse, error) {
	now := s.Now()
	hash := ids.Hash(raw)
	var (
		rt   *ent.RefreshToken
		conn *ent.AppConnection
		user *ent.User
		err  error
	)
	if kept {
		rt, conn, kept = s.keptRefreshRow(hash, now)
	}
	if !kept {
		if rt, conn, user, err = s.refreshSource(ctx, hash); err != nil {
			return nil, serverError(err)
		}
	}
	if rt == nil {
		return nil, ErrInvalidGrant.WithDescription("the refresh token is invalid")
	}
	if rt.ApplicationID != app.ID {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was issued to another client")
	}
	if rt.RevokedAt != nil {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	}
	if rt.RotatedAt != nil {
		return s.retryOrReuse(ctx, app, rt, raw, asked) // a retry within the grace window, or reuse
	}
	if !now.Before(rt.ExpiresAt) {
		return nil, ErrInvalidGrant.WithDescription("the refresh token has expired; sign in again")
	}
	scopes, err := narrowScopes(rt.Scopes, asked)
	if err != nil {
		return nil, err
	}
	switch {
	case conn == nil:
		return nil, ErrInvalidGrant.WithDescription("the connection was deleted")
	case conn.Blocked:
		return nil, ErrInvalidGrant.WithDescription("sign-in to this app is blocked for this account")
	}
	access, next := s.successorTokens(raw)
	g := grant{Scopes: scopes, Family: rt.FamilyID, Nonce: rt.Nonce, ExpiresAt: rt.ExpiresAt, user: user,
		AMR: rt.Amr, ACR: mfa.ACR(rt.Amr)}
	if rt.AuthTime != nil {
		g.AuthTime = *rt.AuthTime
	}
	succ := &ent.RefreshToken{ID: ids.New(ids.RefreshToken), TokenHash: ids.Hash(next), FamilyID: g.Family,
		ConnectionID: conn.ID, ApplicationID: app.ID, Scopes: g.Scopes, Nonce: g.Nonce, CreatedAt: now, ExpiresAt: g.ExpiresAt,
		AuthTime: rt.AuthTime, Amr: rt.Amr}
	w := &rotationWrite{id: rt.ID, now: now, next: succ, done: make(chan struct{}), lead: make(chan struct{})}
	if err := s.writeRotation(ctx, w); err != nil {
		return nil, err
	}
	until := now.Add(s.Config.AccessTokenTTL)
	revoked, stamp, err := s.writeAccessTokenChecked(ctx, access, s.accessGrantOf(app, conn, g, now, until), until.Sub(now))
	if err != nil {
		s.unrotate(ctx, rt.ID, now, next)
		return nil, err
	}
	s.refreshRows.Delete(hash)
	if revoked {
		// The family was revoked while this rotation ran: finish the job.
		if err := s.revokeFamily(ctx, g.Family); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	}
	s.keepRefreshRow(succ, conn.UserID, now)
	if kept && slices.Contains(g.Scopes, ScopeOpenID) {
		// The id_token's claims: the connection's addresses and the account's profile, as
		// GET /api/user reads them (the profile cache, under the stamp read with the write).
		p, found, err := s.connProfile(ctx, conn.ID, stamp)
		switch {
		case err != nil:
			return nil, serverError(err)
		case !found:
			return nil, ErrInvalidGrant.WithDescription("the connection was deleted")
		case p.Blocked:
			return nil, ErrInvalidGrant.WithDescription("sign-in to this app is blocked for this account")
		}
		conn.AliasEmail, conn.AppEmail = p.AliasEmail, p.AppEmail
		g.user = &ent.User{ID: conn.UserID, GlobalID: p.GlobalID, Name: p.Name, Image: p.Image}
	}
	return s.answer(ctx, app, rotation{conn: conn, grant: g, access: access, refresh: next, accessUntil: until})
}

// retryOrReuse handles a spent refresh token presented again: within the grace window, the
// same successor pair (a retry); otherwise the family is revoked (reuse).
func (s *Service) retryOrReuse(ctx context.Context, app *ent.Application, rt *ent.RefreshToken, raw, asked string) (*TokenResponse, error) {
	now := s.Now()
	reuse := func() (*TokenResponse, error) {
		if err := s.revokeFamily(ctx, rt.FamilyID); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was already used; every token of this sign-in is revoked")
	}
	grace := s.Config.RefreshGrace
	if grace <= 0 || rt.RotatedAt == nil || now.Sub(*rt.RotatedAt) > grace {
		return reuse()
	}
	access, next := s.successorTokens(raw)
	succ, err := s.DB.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(next))).Only(ctx)
	if store.NotFound(err) || (err == nil && (succ.FamilyID != rt.FamilyID || succ.ApplicationID != app.ID)) {
		return reuse() // rotated to another token than this retry would get (a key change)
	}
	if err != nil {
		return nil, serverError(err)
	}
	if succ.RevokedAt != nil {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	}
	if succ.RotatedAt != nil {
		return reuse() // the client moved on; the old token came from someone else
	}
	scopes, err := narrowScopes(rt.Scopes, asked)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(scopes, succ.Scopes) {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was just rotated for another scope; use the new refresh token")
	}
	conn, err := s.liveConnection(ctx, succ.ConnectionID)
	if err != nil {
		return nil, err
	}
	g := grant{Scopes: succ.Scopes, Family: succ.FamilyID, Nonce: succ.Nonce, ExpiresAt: succ.ExpiresAt,
		AMR: succ.Amr, ACR: mfa.ACR(succ.Amr)}
	if succ.AuthTime != nil {
		g.AuthTime = *succ.AuthTime
	}
	// Rewrite the access token (idempotent: same key, same grant) in case the rotation
	// committed after its write was lost; a revocation that raced it wins.
	until := succ.CreatedAt.Add(s.Config.AccessTokenTTL)
	if !now.Before(until) {
		return reuse()
	}
	if err := s.writeAccessToken(ctx, access, s.accessGrantOf(app, conn, g, succ.CreatedAt, until), until.Sub(now)); err != nil {
		return nil, err
	}
	if n, err := s.KV.Exists(ctx, revokedFamilyKey(g.Family)).Result(); err != nil || n > 0 {
		if err == nil {
			err = s.revokeFamily(ctx, g.Family)
		}
		if err != nil {
			return nil, serverError(err)
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	}
	return s.answer(ctx, app, rotation{conn: conn, grant: g, access: access, refresh: next, accessUntil: until})
}

// answer builds the token response of a rotation (the id_token is signed afresh).
func (s *Service) answer(ctx context.Context, app *ent.Application, r rotation) (*TokenResponse, error) {
	now := s.Now()
	resp := &TokenResponse{AccessToken: r.access, RefreshToken: r.refresh, TokenType: "Bearer",
		ExpiresIn: max(1, int(r.accessUntil.Sub(now)/time.Second)), Scope: strings.Join(r.grant.Scopes, " ")}
	if slices.Contains(r.grant.Scopes, ScopeOpenID) {
		var err error
		if resp.IDToken, err = s.idToken(ctx, app, r.conn, r.grant, now); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// narrowScopes is the scope of a refresh (RFC 6749 §6): the granted scopes when scope is
// empty, else the asked ones when every one of them was granted; a wider or unknown scope
// answers invalid_scope.
func narrowScopes(granted []string, scope string) ([]string, error) {
	if scope == "" {
		return granted, nil
	}
	asked, serr := ParseScopes(scope)
	if serr != nil {
		return nil, serr
	}
	for _, sc := range asked {
		if !slices.Contains(granted, sc) {
			return nil, ErrInvalidScope.WithDescription("scope %q was not granted", sc)
		}
	}
	return asked, nil
}

// successorTokens are the access and refresh token a rotation of the refresh token raw
// issues: HMAC-SHA256 of raw under the rotation key, so that a retry of a rotation gets the
// same pair and nobody without the key can compute them.
func (s *Service) successorTokens(raw string) (access, refresh string) {
	mac := func(label string) string {
		m := hmac.New(sha256.New, s.Config.RotationKey)
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(raw))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return AccessTokenPrefix + mac("access"), RefreshTokenPrefix + mac("refresh")
}

// liveConnection loads a connection that may still sign in.
func (s *Service) liveConnection(ctx context.Context, id string) (*ent.AppConnection, error) {
	conn, err := s.DB.AppConnection.Get(ctx, id)
	if store.NotFound(err) {
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
