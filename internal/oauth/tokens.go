package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"loginsign/ent"
	"loginsign/internal/clientauth"
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
	app, limits, err := s.authenticateClientLater(ctx, creds)
	if err != nil {
		return nil, err
	}
	req, perr := ParseTokenRequest(form)
	if perr == nil && req.GrantType == "refresh_token" {
		// A refresh counts the client's limits in the round trip of its own write (rotate).
		resp, err := s.refresh(ctx, app, req, limits)
		if err != nil {
			// One refused before that write left them pending: they answer first, as they
			// do for every other grant.
			if lerr := clientError(limits.Run(ctx)); lerr != nil {
				return nil, lerr
			}
		}
		return resp, err
	}
	if err := clientError(limits.Run(ctx)); err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	if req.GrantType == "authorization_code" {
		return s.exchangeCode(ctx, app, req)
	}
	return s.clientCredentials(ctx, app, req)
}

// exchangeCode is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (s *Service) exchangeCode(ctx context.Context, app *ent.Application, req *TokenRequest) (*TokenResponse, error) {
	// RFC 6749 §4.1.3: the code must be the client's. Another client's code is refused before
	// it is taken, as an unknown one: it neither spends it (the client's own exchange would
	// then be a replay) nor, when spent already, revokes the tokens it issued to the client.
	// So is a request of the client that could not redeem it (another redirect_uri, a
	// missing or wrong code_verifier): whoever intercepted the code of a native app, whose
	// credentials ship inside it, cannot spend it before the app does.
	if g, err := s.codeGrant(ctx, req.Code); err != nil {
		return nil, err
	} else if g != nil && g.ApplicationID != app.ID {
		return nil, ErrInvalidGrant.WithDescription("the authorization code is invalid or has expired")
	} else if g != nil {
		if err := s.codeBinding(g, req); err != nil {
			return nil, err
		}
	}
	g, replayed, err := s.redeemCode(ctx, req.Code)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, ErrInvalidGrant.WithDescription("the authorization code is invalid or has expired")
	}
	bound := s.codeBinding(g, req)
	if replayed {
		// RFC 6749 §4.1.2: a code used twice revokes the tokens it issued, when the replay
		// could have redeemed it (its redirect_uri and code_verifier): the client's own
		// exchange always can, so one after a thief's revokes the thief's tokens. A replay
		// that could not have redeemed it got nothing and revokes nothing: else whoever saw
		// a spent code and holds the client's credentials (a native app's ship inside it)
		// could sign the person out of the app at will, without its verifier.
		if bound != nil {
			return nil, ErrInvalidGrant.WithDescription("the authorization code was already used")
		}
		if err := s.revokeFamily(ctx, g.Family); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the authorization code was already used; the tokens it issued are revoked")
	}
	if bound != nil {
		return nil, bound
	}
	if unregisteredRedirect(app, g.RedirectURI) != nil {
		// Removed by the developer since the code was issued: it gets no tokens there.
		return nil, ErrInvalidGrant.WithDescription("redirect_uri is no longer registered for the client")
	}
	conn, err := s.liveConnection(ctx, g.ConnectionID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	resp, err := s.issue(ctx, app, conn, grant{Scopes: g.Scopes, Family: g.Family, Nonce: g.Nonce,
		AuthTime: time.Unix(g.AuthTime, 0), ExpiresAt: now.Add(s.Config.RefreshTokenTTL),
		AMR: g.AMR, ACR: mfa.ACR(g.AMR), Line: g.Line}, true)
	if err != nil {
		return nil, err
	}
	// A replay that raced this exchange revoked the family before its tokens existed, or the
	// person ended the session that approved while the code waited (endLines found no family
	// of it): finish the job so the code issues nothing usable. One round trip for both. If
	// that fails, the tokens are not answered: they could be alive, and a retry of the
	// exchange is a replay, which revokes the family again.
	pipe := s.KV.Pipeline()
	revoked := pipe.Exists(ctx, revokedFamilyKey(g.Family))
	ended := pipe.Exists(ctx, endedLineKey(g.Line))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, serverError(fmt.Errorf("reading revocations of the exchange: %w", err))
	}
	if revoked.Val() > 0 || (g.Line != "" && ended.Val() > 0) {
		if err := s.revokeFamily(ctx, g.Family, ids.Hash(resp.AccessToken)); err != nil {
			return nil, err
		}
	}
	if g.Line != "" && ended.Val() > 0 {
		return nil, ErrInvalidGrant.WithDescription("the person ended the session that approved this authorization")
	}
	return resp, nil
}

// codeBinding checks the token request req against what the code's grant g is bound to: the
// redirect_uri of the authorization request and its code_challenge (RFC 6749 §4.1.3, RFC 7636
// §4.6, no downgrade either way). nil when req may redeem the code.
func (s *Service) codeBinding(g *codeGrant, req *TokenRequest) error {
	switch {
	case g.RedirectURI != req.RedirectURI:
		return ErrInvalidGrant.WithDescription("redirect_uri does not match the authorization request")
	case g.Challenge != "" && req.CodeVerifier == "":
		return ErrInvalidGrant.WithDescription("code_verifier is required: the authorization request sent a code_challenge")
	case g.Challenge == "" && req.CodeVerifier != "":
		return ErrInvalidGrant.WithDescription("code_verifier sent but the authorization request had no code_challenge")
	case g.Challenge != "" && !s.Equal(S256(req.CodeVerifier), g.Challenge):
		return ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	return nil
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
	// Line is the line of the browser session that signed in, kept by the family (endLines).
	Line string
	// user is the connection's account when it was loaded already (its profile claims).
	user *ent.User
}

// issue creates an access token, a refresh token of the family when withRefresh (always, in
// practice: rotation issues a new one), and an id_token for openid.
func (s *Service) issue(ctx context.Context, app *ent.Application, conn *ent.AppConnection, g grant, withRefresh bool) (*TokenResponse, error) {
	now := s.Now()
	resp := &TokenResponse{TokenType: "Bearer", ExpiresIn: int(s.Config.AccessTokenTTL / time.Second), Scope: strings.Join(g.Scopes, " ")}
	if withRefresh {
		id := ids.New(ids.RefreshToken)
		resp.RefreshToken = s.firstRefreshToken(id)
		hash := ids.Hash(resp.RefreshToken)
		create := s.DB.RefreshToken.Create().SetID(id).SetTokenHash(hash).SetCurrentHash(hash).SetFamilyID(g.Family).
			SetConnectionID(conn.ID).SetApplicationID(app.ID).SetScopes(g.Scopes).SetNonce(g.Nonce).
			SetCreatedAt(now).SetExpiresAt(g.ExpiresAt)
		if !g.AuthTime.IsZero() {
			create.SetAuthTime(g.AuthTime)
		}
		if len(g.AMR) > 0 {
			create.SetAmr(g.AMR)
		}
		if g.Line != "" {
			create.SetSessionLine(g.Line)
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

// refresh is the refresh_token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2). A
// sign-in's refresh tokens are one row (a family): the presented token must be the row's
// live one, and the rotation spends it by one conditional UPDATE that moves the row to the
// next generation (a concurrent rotation or revocation since makes it touch nothing, and the
// attempt runs again). The family's absolute expiry never moves, and the new refresh token
// keeps the family's scope: a narrower scope asked for narrows the access token alone (§6).
//
// Every check that can refuse the request, the scope of §6 included (a wider scope answers
// invalid_scope), runs before the token is spent, so a refused request leaves it usable.
//
// The successor tokens are derived from the presented one under the rotation key
// (successorTokens), so a retry of a rotation whose answer was lost gets the same pair: within
// Config.RefreshGrace of the rotation, from the same client, while the successor is unused and
// unrevoked, presenting the spent token again answers the same refresh token and, for the
// same scope, the same access token. Any other use of a spent token is reuse: the family is
// revoked.
func (s *Service) refresh(ctx context.Context, app *ent.Application, req *TokenRequest, limits *clientauth.Pending) (*TokenResponse, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.rotate(ctx, app, req.RefreshToken, req.Scope, attempt == 0, limits)
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

// rotate runs one attempt of refresh. The family's row and its connection are read and
// every check made before the writes. The access token is written to Redis first, in one
// round trip with the client's limits (limits, pending from Token, counted by the first
// attempt that gets this far), a look for a revocation of the family and the profiles'
// stamp; the rotation follows, and only moves the row to the next generation: SQLite has one
// writer, and the shorter the write, the more rotations a second. Nobody holds the access
// token until the answer, so one whose rotation then fails (a fault, a race, a revocation)
// is like an answer lost on the way: the client's retry rotates to the same tokens, and a
// revocation deletes it with the family's others. Refused by the limits, the rotation is not
// made and the token is deleted again.
//
// The first attempt takes the row from refreshRows when this process issued the family and
// takes the token for the live one: the write checks that it is (and that the family is not
// revoked, the connection not blocked or gone). A write that touches nothing makes the next
// attempt read the row, and answer by what it finds: a token ahead of it (lostRotation)
// rotates from the row as read.
func (s *Service) rotate(ctx context.Context, app *ent.Application, raw, asked string, kept bool, limits *clientauth.Pending) (*TokenResponse, error) {
	now := s.Now()
	ref, ok := parseRefreshToken(raw)
	if !ok {
		return nil, ErrInvalidGrant.WithDescription("the refresh token is invalid")
	}
	var (
		rt   *ent.RefreshToken
		conn *ent.AppConnection
		user *ent.User
		err  error
	)
	if kept && ref.rowID != "" {
		rt, conn, kept = s.keptRefreshRow(ref.rowID, now)
	} else {
		kept = false
	}
	if !kept {
		if rt, conn, user, err = s.refreshSource(ctx, ref); err != nil {
			return nil, serverError(err)
		}
	}
	if rt == nil || rt.ApplicationID != app.ID {
		// Another client's family is answered as an unknown one: before its token is
		// checked, telling them apart would tell which row ids exist.
		return nil, ErrInvalidGrant.WithDescription("the refresh token is invalid")
	}
	if rt.RevokedAt != nil {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	}
	// The write moves the row from generation gen, whose live token hashes to hash, to the
	// presented token's next.
	gen, hash := ref.gen, ids.Hash(raw)
	if !kept {
		switch st := s.tokenState(rt, ref); st {
		case tokenUnknown:
			return nil, ErrInvalidGrant.WithDescription("the refresh token is invalid")
		case tokenPrevious, tokenSpent:
			return s.retryOrReuse(ctx, app, rt, conn, user, ref, st, asked, limits)
		case tokenAhead:
			lostRotation(ctx, rt, ref)
			gen, hash = rt.Generation, *rt.CurrentHash
		}
	}
	if !now.Before(rt.ExpiresAt) {
		return nil, ErrInvalidGrant.WithDescription("the refresh token has expired; sign in again")
	}
	scopes, err := narrowScopes(rt.Scopes, asked)
	if err != nil {
		return nil, err
	}
	if err := refuseConnection(conn); err != nil {
		return nil, err
	}
	access, next := s.successorTokens(ref, rt.ID, scopes)
	g := familyGrant(rt, scopes, user)
	until := now.Add(s.Config.AccessTokenTTL)
	ag := s.accessGrantOf(app, conn, g, now, until)
	wr, err := s.writeAccessTokenChecked(ctx, access, ag, until.Sub(now), limits)
	if s.testHookTokenWritten != nil {
		s.testHookTokenWritten(g.Family)
	}
	switch {
	case err != nil:
		return nil, err
	case wr.refused != nil:
		if !wr.found {
			s.dropAccessToken(ctx, access, ag)
		}
		return nil, wr.refused
	case wr.revoked:
		// The family is being revoked: finish the job (its tokens, this one included, go).
		if err := s.revokeFamily(ctx, g.Family, ids.Hash(access)); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	case wr.found:
		// An attempt before wrote the token (its rotation did not commit, or this is a spent
		// token that a kept row took for the live one), or the client revoked it: the row,
		// read afresh, tells which.
		if until, err = s.foundAccessToken(ctx, access); err != nil {
			if errors.Is(err, errAccessTokenGone) {
				err = errRaced
			}
			return nil, err
		}
	}
	w := &rotationWrite{id: rt.ID, gen: gen, hash: hash, to: ref.gen + 1, next: ids.Hash(next), now: now}
	if err := s.writeRotation(ctx, w); err != nil {
		return nil, err
	}
	s.keepRefreshRow(rt, conn.UserID, now)
	if kept && slices.Contains(g.Scopes, ScopeOpenID) {
		// The id_token's claims: the connection's addresses and the account's profile, as
		// GET /api/user reads them (the profile cache, under the stamp read with the write).
		p, found, err := s.connProfile(ctx, conn.ID, wr.stamp)
		switch {
		case err != nil:
			return nil, serverError(err)
		case !found:
			return nil, refuseConnection(nil)
		case p.Blocked:
			return nil, refuseConnection(&ent.AppConnection{Blocked: true})
		}
		conn.AliasEmail, conn.AppEmail = p.AliasEmail, p.AppEmail
		g.user = &ent.User{ID: conn.UserID, GlobalID: p.GlobalID, Name: p.Name, Image: p.Image}
	}
	return s.answer(ctx, app, rotation{conn: conn, grant: g, access: access, refresh: next, accessUntil: until})
}

// familyGrant is what a rotation of the family rt issues for scopes; user is the
// connection's account when it was read with the row.
func familyGrant(rt *ent.RefreshToken, scopes []string, user *ent.User) grant {
	g := grant{Scopes: scopes, Family: rt.FamilyID, Nonce: rt.Nonce, ExpiresAt: rt.ExpiresAt, user: user,
		AMR: rt.Amr, ACR: mfa.ACR(rt.Amr)}
	if rt.AuthTime != nil {
		g.AuthTime = *rt.AuthTime
	}
	return g
}

// refuseConnection is the answer to a refresh whose connection is gone or blocked (nil when
// it may sign in).
func refuseConnection(conn *ent.AppConnection) error {
	switch {
	case conn == nil:
		return ErrInvalidGrant.WithDescription("the connection was deleted")
	case conn.Blocked:
		return ErrInvalidGrant.WithDescription("sign-in to this app is blocked for this account")
	}
	return nil
}

// retryOrReuse handles a spent refresh token presented again (st is tokenPrevious or
// tokenSpent): the token the last rotation spent, within the grace window, gets that
// rotation's pair again (a retry); anything else revokes the family (reuse). conn and user
// are the row's, as refreshSource read them.
func (s *Service) retryOrReuse(ctx context.Context, app *ent.Application, rt *ent.RefreshToken, conn *ent.AppConnection,
	user *ent.User, ref refreshRef, st tokenState, asked string, limits *clientauth.Pending) (*TokenResponse, error) {
	now := s.Now()
	grace := s.Config.RefreshGrace
	if st != tokenPrevious || grace <= 0 || rt.RotatedAt == nil || now.Sub(*rt.RotatedAt) > grace {
		// A client over its limits revokes nothing: they answer first.
		if err := clientError(limits.Run(ctx)); err != nil {
			return nil, err
		}
		if err := s.revokeFamily(ctx, rt.FamilyID); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was already used; every token of this sign-in is revoked")
	}
	if !now.Before(rt.ExpiresAt) {
		return nil, ErrInvalidGrant.WithDescription("the refresh token has expired; sign in again")
	}
	scopes, err := narrowScopes(rt.Scopes, asked)
	if err != nil {
		return nil, err
	}
	if err := refuseConnection(conn); err != nil {
		return nil, err
	}
	access, next := s.successorTokens(ref, rt.ID, scopes)
	g := familyGrant(rt, scopes, user)
	// Restore the access token (same key, same grant) in case the rotation committed after
	// its write was lost; a revocation that raced it wins, and a token the client revoked
	// since stays revoked.
	issued := *rt.RotatedAt
	until := issued.Add(s.Config.AccessTokenTTL)
	if !now.Before(until) {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was already used")
	}
	wr, err := s.writeAccessTokenChecked(ctx, access, s.accessGrantOf(app, conn, g, issued, until), until.Sub(now), limits)
	switch {
	case err != nil:
		return nil, err
	case wr.refused != nil:
		return nil, wr.refused // the token stays: it is the rotation's, answered before
	case wr.revoked:
		if err := s.revokeFamily(ctx, g.Family, ids.Hash(access)); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	case wr.found:
		if until, err = s.foundAccessToken(ctx, access); errors.Is(err, errAccessTokenGone) {
			// The rotation's answer was not lost: its access token came back to be revoked.
			return nil, ErrInvalidGrant.WithDescription("the refresh token was already used")
		} else if err != nil {
			return nil, err
		}
	}
	return s.answer(ctx, app, rotation{conn: conn, grant: g, access: access, refresh: next, accessUntil: until})
}

// answer builds the token response of a rotation (the id_token is signed afresh). The
// id_token has no nonce: the nonce binds the sign-in's id_token to its authorization request,
// and OpenID Connect Core §12.2 (errata set 2) says a refreshed one should not carry it.
func (s *Service) answer(ctx context.Context, app *ent.Application, r rotation) (*TokenResponse, error) {
	now := s.Now()
	resp := &TokenResponse{AccessToken: r.access, RefreshToken: r.refresh, TokenType: "Bearer",
		ExpiresIn: max(1, int(r.accessUntil.Sub(now)/time.Second)), Scope: strings.Join(r.grant.Scopes, " ")}
	if slices.Contains(r.grant.Scopes, ScopeOpenID) {
		g := r.grant
		g.Nonce = ""
		var err error
		if resp.IDToken, err = s.idToken(ctx, app, r.conn, g, now); err != nil {
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

// refreshRef is a presented refresh token: the family's row it names, its generation, and
// the part its tag covers. A token of the one-row-per-token layout names no row (rowID
// empty): its hash finds the row, and it is that row's generation 0.
type refreshRef struct {
	raw    string
	rowID  string
	gen    int
	tagged string // RefreshTokenPrefix + row + "." + generation + "." + secret
	tag    string
}

// parseRefreshToken splits raw: RefreshTokenPrefix + row id + "." + generation + "." +
// secret + "." + tag, or RefreshTokenPrefix + secret (a token of the one-row-per-token
// layout).
func parseRefreshToken(raw string) (refreshRef, bool) {
	rest, ok := strings.CutPrefix(raw, RefreshTokenPrefix)
	if !ok || rest == "" {
		return refreshRef{}, false
	}
	if !strings.Contains(rest, ".") {
		return refreshRef{raw: raw}, true
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 || !strings.HasPrefix(parts[0], ids.RefreshToken) || len(parts[0]) > 64 || parts[2] == "" || parts[3] == "" {
		return refreshRef{}, false
	}
	gen, err := strconv.ParseUint(parts[1], 10, 31)
	if err != nil || strconv.FormatUint(gen, 10) != parts[1] {
		return refreshRef{}, false
	}
	cut := len(raw) - len(parts[3]) - 1
	return refreshRef{raw: raw, rowID: parts[0], gen: int(gen), tagged: raw[:cut], tag: parts[3]}, true
}

// refreshToken is the token of generation gen of the row rowID whose secret is secret: with
// its tag, a MAC under the rotation key that proves this server issued it.
func (s *Service) refreshToken(rowID string, gen int, secret string) string {
	tagged := RefreshTokenPrefix + rowID + "." + strconv.Itoa(gen) + "." + secret
	return tagged + "." + s.refreshTag(tagged)
}

// refreshTag is the tag of tagged (128 bits of HMAC-SHA256 under the rotation key).
func (s *Service) refreshTag(tagged string) string {
	return s.rotationMAC("tag", refreshRef{raw: tagged}, "")[:22]
}

// firstRefreshToken is a new family's first token: generation 0 of row id, with 32 random
// bytes.
func (s *Service) firstRefreshToken(id string) string {
	return s.refreshToken(id, 0, ids.Secret(""))
}

// successorTokens are the access and refresh token a rotation of r, of the family's row
// rowID, issues for scopes: HMAC-SHA256 of r under the rotation key, so that a retry of a
// rotation gets the same pair and nobody without the key can compute them. The refresh token
// is the row's next generation; the access token depends on the scope as well.
func (s *Service) successorTokens(r refreshRef, rowID string, scopes []string) (access, refresh string) {
	return AccessTokenPrefix + s.rotationMAC("access", r, strings.Join(scopes, " ")), s.nextRefreshToken(r, rowID)
}

// nextRefreshToken is the refresh token of the generation after r's, of the row rowID.
func (s *Service) nextRefreshToken(r refreshRef, rowID string) string {
	return s.refreshToken(rowID, r.gen+1, s.rotationMAC("refresh", r, ""))
}

// rotationMAC is HMAC-SHA256 under the rotation key of label, r and data, in base64url.
func (s *Service) rotationMAC(label string, r refreshRef, data string) string {
	in := make([]byte, 0, len(label)+len(r.raw)+len(data)+2)
	in = append(append(append(append(append(in, label...), 0), r.raw...), 0), data...)
	m := s.rotationHMAC()
	m.Write(in)
	return base64.RawURLEncoding.EncodeToString(m.Sum(in[:0]))
}

// keyedHMAC is an HMAC keyed once, whose clones skip hashing the key's two padded blocks.
type keyedHMAC struct {
	once sync.Once
	h    hash.Cloner
}

// rotationHMAC is a new HMAC-SHA256 under the rotation key.
func (s *Service) rotationHMAC() hash.Hash {
	s.rotationKeyed.once.Do(func() {
		m := hmac.New(sha256.New, s.Config.RotationKey)
		// Reset keeps the hash states after the padded keys and restores them from then on
		// (FIPS 198-1 §6 allows it); clones share them.
		m.Reset()
		s.rotationKeyed.h, _ = m.(hash.Cloner)
	})
	if s.rotationKeyed.h != nil {
		if c, err := s.rotationKeyed.h.Clone(); err == nil {
			return c
		}
	}
	return hmac.New(sha256.New, s.Config.RotationKey) // crypto/hmac over SHA-256 clones: not reached
}

// tokenState is what a presented refresh token is to its family's row.
type tokenState int

const (
	tokenUnknown  tokenState = iota // not a token of the row: forged, or of another generation than it claims
	tokenLive                       // the row's live token
	tokenPrevious                   // spent by the row's last rotation
	tokenSpent                      // spent earlier
	tokenAhead                      // issued by a rotation the database has lost since (lostRotation)
)

// tokenState tells what r is to rt, read from the database, in constant time whatever the
// generation: the live token hashes to the row's current hash, the one before is the one
// whose successor does, and an older or a later one is told by its tag (this server derived
// it, and a family's tokens follow from its first: it is the row's, and spent, or ahead).
func (s *Service) tokenState(rt *ent.RefreshToken, r refreshRef) tokenState {
	if rt.CurrentHash == nil { // the one-row-per-token layout: live until rotated
		switch {
		case r.rowID != "": // only a token of the layout, found by its hash, is the row's
			return tokenUnknown
		case rt.RotatedAt == nil:
			return tokenLive
		}
		return tokenSpent
	}
	// A token of the layout (found by its hash: the row's first) carries no tag.
	if r.rowID != "" && !s.Equal(r.tag, s.refreshTag(r.tagged)) {
		return tokenUnknown
	}
	switch {
	case r.gen == rt.Generation && s.Equal(ids.Hash(r.raw), *rt.CurrentHash):
		return tokenLive
	case r.gen == rt.Generation-1 && s.Equal(ids.Hash(s.nextRefreshToken(r, rt.ID)), *rt.CurrentHash):
		return tokenPrevious
	case r.gen < rt.Generation-1:
		return tokenSpent
	case r.gen > rt.Generation:
		return tokenAhead
	}
	return tokenUnknown
}

// lostRotation is about a refresh token a generation or more ahead of its family's row.
// The server answers a generation's token only once the rotation that spent the live token
// of the one before has committed (what it derives otherwise never leaves it), so such a
// token, its tag valid, was issued by rotations the database no longer holds: committed
// asynchronously (asyncCommit) or under SQLite's synchronous=NORMAL and lost in a crash of
// the database or its machine, or undone by a failover to a replica that lagged, or by a
// restore. Its holder got it from a rotation of the family's live token, and nobody can
// make it without the rotation key, so the rotation is made again from it, from the row as
// read: refusing it would sign out everyone who refreshed in the database's last moments.
func lostRotation(ctx context.Context, rt *ent.RefreshToken, r refreshRef) {
	slog.WarnContext(ctx, "refresh token ahead of its row: the database lost a rotation; rotating from the token",
		"family", rt.FamilyID, "row_generation", rt.Generation, "token_generation", r.gen)
}

// liveConnection loads a connection that may still sign in.
func (s *Service) liveConnection(ctx context.Context, id string) (*ent.AppConnection, error) {
	conn, err := s.DB.AppConnection.Get(ctx, id)
	if store.NotFound(err) {
		return nil, refuseConnection(nil)
	}
	if err != nil {
		return nil, serverError(err)
	}
	if err := refuseConnection(conn); err != nil {
		return nil, err
	}
	return conn, nil
}
