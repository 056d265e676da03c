package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/refreshtoken"
	"loginsign/ent/user"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
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
		resp, err := s.rotate(ctx, app, req.RefreshToken, req.Scope)
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
func (s *Service) rotate(ctx context.Context, app *ent.Application, raw, asked string) (*TokenResponse, error) {
	now := s.Now()
	rt, conn, user, err := s.refreshSource(ctx, ids.Hash(raw))
	if err != nil {
		return nil, serverError(err)
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
	w := &rotationWrite{id: rt.ID, now: now, done: make(chan struct{}), lead: make(chan struct{})}
	w.create = func(tx *ent.Tx) *ent.RefreshTokenCreate {
		create := tx.RefreshToken.Create().SetTokenHash(ids.Hash(next)).SetFamilyID(g.Family).
			SetConnectionID(conn.ID).SetApplicationID(app.ID).SetScopes(g.Scopes).SetNonce(g.Nonce).
			SetCreatedAt(now).SetExpiresAt(g.ExpiresAt)
		if rt.AuthTime != nil {
			create.SetAuthTime(g.AuthTime)
		}
		if len(rt.Amr) > 0 {
			create.SetAmr(rt.Amr)
		}
		return create
	}
	if err := s.rotations.write(ctx, s, w); err != nil {
		return nil, err
	}
	until := now.Add(s.Config.AccessTokenTTL)
	revoked, err := s.writeAccessTokenChecked(ctx, access, s.accessGrantOf(app, conn, g, now, until), until.Sub(now))
	if err != nil {
		s.unrotate(ctx, rt.ID, now, next)
		return nil, err
	}
	if revoked {
		// The family was revoked while this rotation ran: finish the job.
		if err := s.revokeFamily(ctx, g.Family); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("the refresh token was revoked")
	}
	return s.answer(ctx, app, rotation{conn: conn, grant: g, access: access, refresh: next, accessUntil: until})
}

// refreshSource reads, in one prepared query, the refresh token whose hash is hash with its
// connection and the connection's account: rt nil when there is no such token, conn nil when
// its connection is gone.
func (s *Service) refreshSource(ctx context.Context, hash string) (rt *ent.RefreshToken, conn *ent.AppConnection, u *ent.User, err error) {
	stmt, err := s.refreshStmt.get(ctx, s.DB.SQL, func() string {
		t := entsql.Table(refreshtoken.Table).As("t")
		c, a := entsql.Table(appconnection.Table).As("c"), entsql.Table(user.Table).As("u")
		query, _ := entsql.Dialect(s.DB.Dialect).
			Select(t.C(refreshtoken.FieldID), t.C(refreshtoken.FieldFamilyID), t.C(refreshtoken.FieldConnectionID),
				t.C(refreshtoken.FieldApplicationID), t.C(refreshtoken.FieldScopes), t.C(refreshtoken.FieldNonce),
				t.C(refreshtoken.FieldAuthTime), t.C(refreshtoken.FieldExpiresAt), t.C(refreshtoken.FieldRotatedAt),
				t.C(refreshtoken.FieldRevokedAt), t.C(refreshtoken.FieldAmr),
				c.C(appconnection.FieldID), c.C(appconnection.FieldUserID), c.C(appconnection.FieldApplicationID),
				c.C(appconnection.FieldBlocked), c.C(appconnection.FieldAliasEmail), c.C(appconnection.FieldAppEmail),
				a.C(user.FieldGlobalID), a.C(user.FieldName), a.C(user.FieldImage)).
			From(t).LeftJoin(c).On(t.C(refreshtoken.FieldConnectionID), c.C(appconnection.FieldID)).
			LeftJoin(a).On(c.C(appconnection.FieldUserID), a.C(user.FieldID)).
			Where(entsql.EQ(t.C(refreshtoken.FieldTokenHash), "")).Query()
		return query
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("preparing the refresh query: %w", err)
	}
	var (
		scopes, amr                       []byte
		authTime, rotatedAt, revokedAt    sql.NullTime
		cID, cUser, cApp, alias, appEmail sql.NullString
		blocked                           sql.NullBool
		globalID, name, image             sql.NullString
	)
	rt = &ent.RefreshToken{TokenHash: hash}
	err = stmt.QueryRowContext(ctx, hash).Scan(&rt.ID, &rt.FamilyID, &rt.ConnectionID, &rt.ApplicationID, &scopes, &rt.Nonce,
		&authTime, &rt.ExpiresAt, &rotatedAt, &revokedAt, &amr, &cID, &cUser, &cApp, &blocked, &alias, &appEmail,
		&globalID, &name, &image)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading refresh token: %w", err)
	}
	if len(scopes) > 0 {
		if err := json.Unmarshal(scopes, &rt.Scopes); err != nil {
			return nil, nil, nil, fmt.Errorf("loading refresh token: scopes: %w", err)
		}
	}
	if len(amr) > 0 {
		if err := json.Unmarshal(amr, &rt.Amr); err != nil {
			return nil, nil, nil, fmt.Errorf("loading refresh token: amr: %w", err)
		}
	}
	at := func(t sql.NullTime) *time.Time {
		if !t.Valid {
			return nil
		}
		return &t.Time
	}
	rt.AuthTime, rt.RotatedAt, rt.RevokedAt = at(authTime), at(rotatedAt), at(revokedAt)
	if !cID.Valid {
		return rt, nil, nil, nil
	}
	conn = &ent.AppConnection{ID: cID.String, UserID: cUser.String, ApplicationID: cApp.String, Blocked: blocked.Bool,
		AliasEmail: alias.String, AppEmail: appEmail.String}
	if globalID.Valid {
		u = &ent.User{ID: cUser.String, GlobalID: globalID.String, Name: name.String, Image: image.String}
	}
	return rt, conn, u, nil
}

// rotationWrite is the write of one rotation: spend the token id (unless it was spent or
// revoked since it was read) and insert its successor.
type rotationWrite struct {
	id     string
	now    time.Time
	create func(tx *ent.Tx) *ent.RefreshTokenCreate
	err    error
	done   chan struct{} // closed when err is set
	lead   chan struct{} // closed when this write's goroutine is to commit the next batch
}

// rotationBatches commits concurrent rotations together (group commit): the first writer
// commits every rotation queued meanwhile (up to maxRotationBatch) in one transaction, and
// hands on to the first writer still waiting. On SQLite, whose one writer made each
// rotation wait for the previous one's BEGIN … COMMIT, a burst of rotations then costs one
// transaction; on PostgreSQL one commit (one WAL flush). A rotation that finds its token
// spent meanwhile gets errRaced and runs again; a failing statement or commit fails the
// whole batch (every token stays unspent, every client gets 500 and may retry).
type rotationBatches struct {
	mu      sync.Mutex
	pending []*rotationWrite
	running bool
}

const (
	maxRotationBatch     = 64
	rotationBatchTimeout = 30 * time.Second
)

func (b *rotationBatches) write(ctx context.Context, s *Service, w *rotationWrite) error {
	b.mu.Lock()
	b.pending = append(b.pending, w)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if !lead {
		select {
		case <-w.done:
			return w.err
		case <-w.lead:
		}
	}
	// Commit batches until this write's is done, then hand on.
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxRotationBatch)
		batch := slices.Clone(b.pending[:n])
		b.pending = b.pending[n:]
		b.mu.Unlock()
		// The batch is not the request's alone: it outlives a client that went away, but not
		// a database that stopped answering.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rotationBatchTimeout)
		s.commitRotations(bctx, batch)
		cancel()
		select {
		case <-w.done:
		default:
			continue
		}
		b.mu.Lock()
		if len(b.pending) > 0 {
			close(b.pending[0].lead)
		} else {
			b.running = false
		}
		b.mu.Unlock()
		return w.err
	}
}

// commitRotations writes batch in one transaction and tells each write its outcome.
func (s *Service) commitRotations(ctx context.Context, batch []*rotationWrite) {
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		for _, w := range batch {
			w.err = nil
			n, err := tx.RefreshToken.Update().Where(refreshtoken.ID(w.id), refreshtoken.RotatedAtIsNil(), refreshtoken.RevokedAtIsNil()).
				SetRotatedAt(w.now).Save(ctx)
			if err != nil {
				return err
			}
			if n != 1 {
				w.err = errRaced
				continue
			}
			if err := w.create(tx).Exec(ctx); err != nil {
				return fmt.Errorf("storing refresh token: %w", err)
			}
		}
		return nil
	})
	for _, w := range batch {
		if err != nil {
			w.err = serverError(err)
		}
		close(w.done)
	}
}

// unrotate undoes a committed rotation whose access token could not be stored: the token
// spent at rotatedAt is unspent and its successor removed, so that the client's retry
// rotates afresh. It is best effort (the database may be failing too): if it fails, the
// token stays spent and the retry is answered within the grace window instead.
func (s *Service) unrotate(ctx context.Context, id string, rotatedAt time.Time, next string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.RefreshToken.Delete().Where(refreshtoken.TokenHash(ids.Hash(next)), refreshtoken.RotatedAtIsNil()).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.RefreshToken.Update().Where(refreshtoken.ID(id), refreshtoken.RotatedAt(rotatedAt), refreshtoken.RevokedAtIsNil()).
			ClearRotatedAt().Save(ctx)
		return err
	})
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

// connectionLive reports, in one prepared query, whether the connection id exists and is not
// blocked.
func (s *Service) connectionLive(ctx context.Context, id string) (bool, error) {
	stmt, err := s.liveStmt.get(ctx, s.DB.SQL, func() string {
		query, _ := entsql.Dialect(s.DB.Dialect).Select(appconnection.FieldBlocked).From(entsql.Table(appconnection.Table)).
			Where(entsql.EQ(appconnection.FieldID, "")).Query()
		return query
	})
	if err != nil {
		return false, fmt.Errorf("preparing the connection query: %w", err)
	}
	var blocked bool
	err = stmt.QueryRowContext(ctx, id).Scan(&blocked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("loading connection: %w", err)
	}
	return !blocked, nil
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

// decodeFast decodes b as json.Marshal writes an accessGrant (the field order of the
// struct, strings without escapes, integers), the form every instance stores, without
// reflection: json.Unmarshal was 4 % of GET /api/user's CPU. Anything else reports false and
// is left to json.Unmarshal.
func (g *accessGrant) decodeFast(b []byte) bool {
	i := 0
	lit := func(l string) bool {
		if len(b)-i < len(l) || string(b[i:i+len(l)]) != l {
			return false
		}
		i += len(l)
		return true
	}
	str := func(dst *string) bool {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 || b[j] >= 0x80 {
				return false
			}
			j++
		}
		if j >= len(b) {
			return false
		}
		*dst = string(b[i+1 : j])
		i = j + 1
		return true
	}
	num := func(dst *int64) bool {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 18 {
			j++
		}
		if j == i || (j < len(b) && b[j] >= '0' && b[j] <= '9') {
			return false
		}
		n, err := strconv.ParseInt(string(b[i:j]), 10, 64)
		if err != nil {
			return false
		}
		*dst, i = n, j
		return true
	}
	if !lit(`{"a":`) || !str(&g.ApplicationID) || !lit(`,"c":`) || !str(&g.ConnectionID) ||
		!lit(`,"u":`) || !str(&g.UserID) || !lit(`,"s":`) {
		return false
	}
	switch {
	case lit("null"):
	case lit("["):
		g.Scopes = []string{}
		for !lit("]") {
			if len(g.Scopes) > 0 && !lit(",") {
				return false
			}
			var sc string
			if !str(&sc) {
				return false
			}
			g.Scopes = append(g.Scopes, sc)
		}
	default:
		return false
	}
	return lit(`,"f":`) && str(&g.Family) && lit(`,"i":`) && num(&g.IssuedAt) &&
		lit(`,"e":`) && num(&g.ExpiresAt) && lit("}") && i == len(b)
}

func accessKey(hash string) string          { return "at:" + hash }
func familyTokensKey(family string) string  { return "fat:" + family }
func revokedFamilyKey(family string) string { return "frv:" + family }

func (s *Service) storeAccessToken(ctx context.Context, g accessGrant) (string, error) {
	raw := ids.Secret(AccessTokenPrefix)
	if err := s.writeAccessToken(ctx, raw, g, s.Config.AccessTokenTTL); err != nil {
		return "", err
	}
	return raw, nil
}

// accessGrantOf is the grant of an access token issued at from.
func (s *Service) accessGrantOf(app *ent.Application, conn *ent.AppConnection, g grant, from, until time.Time) accessGrant {
	return accessGrant{ApplicationID: app.ID, ConnectionID: conn.ID, UserID: conn.UserID, Scopes: g.Scopes,
		Family: g.Family, IssuedAt: from.Unix(), ExpiresAt: until.Unix()}
}

// writeAccessToken stores the access token raw for ttl and adds it to its family (one
// transaction pipeline, one round trip). Writing the same token again is harmless.
func (s *Service) writeAccessToken(ctx context.Context, raw string, g accessGrant, ttl time.Duration) error {
	_, err := s.writeAccessTokenChecked(ctx, raw, g, ttl)
	return err
}

// writeAccessTokenChecked is writeAccessToken that also reports, in the same round trip,
// whether the family has been revoked (revokeFamily's marker), for writes that may have
// raced a revocation.
func (s *Service) writeAccessTokenChecked(ctx context.Context, raw string, g accessGrant, ttl time.Duration) (revoked bool, err error) {
	h := ids.Hash(raw)
	b, _ := json.Marshal(g)
	pipe := s.KV.TxPipeline()
	pipe.Set(ctx, accessKey(h), b, ttl)
	pipe.SAdd(ctx, familyTokensKey(g.Family), h)
	pipe.Expire(ctx, familyTokensKey(g.Family), s.Config.AccessTokenTTL)
	marker := pipe.Exists(ctx, revokedFamilyKey(g.Family))
	if _, err := pipe.Exec(ctx); err != nil {
		return false, serverError(fmt.Errorf("storing access token: %w", err))
	}
	return marker.Val() > 0, nil
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
	if !g.decodeFast(b) {
		*g = accessGrant{}
		if err := json.Unmarshal(b, g); err != nil {
			return nil, serverError(fmt.Errorf("reading access token: %w", err))
		}
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

// preparedStmt is a statement prepared once on first use (database/sql then keeps it
// prepared per connection): the hot queries skip building and parsing SQL on every call. A
// failed prepare is retried on the next call.
type preparedStmt struct {
	mu   sync.Mutex
	stmt atomic.Pointer[sql.Stmt]
}

func (p *preparedStmt) get(ctx context.Context, db *sql.DB, query func() string) (*sql.Stmt, error) {
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query())
	if err != nil {
		return nil, err
	}
	p.stmt.Store(st)
	return st, nil
}
