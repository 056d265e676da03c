package oauth_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The flow tests call the authorization server's domain API (Authorize, Approve, Token,
// Revoke, Introspect) directly, as fosite's flow_*_test.go do: table tests named by
// behaviour, on a real database and a real Redis protocol store, without HTTP.

// flowEnv is one authorization server on one backend pair.
type flowEnv struct {
	svc *oauth.Service
	db  *store.DB
	kv  *kv.Store
	// clock is the service's clock; on the embedded store it is the store's clock too, so
	// advancing it expires Redis keys (authorization codes) without waiting.
	clock    *kvtest.Clock
	embedded bool
	n        atomic.Int64
}

// forFlowBackends runs fn on SQLite with the embedded store always, and on PostgreSQL with
// real Redis when both LOGINSIGN_TEST_DATABASE_URL and LOGINSIGN_TEST_REDIS_URL are set: the
// two pairs a deployment runs. Each backend gets one fresh database; cases make their own
// clients and people, so they share it.
func forFlowBackends(t *testing.T, cfg oauth.Config, fn func(t *testing.T, e *flowEnv)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		k, clk := kvtest.EmbeddedClock(t)
		fn(t, newFlowEnv(t, storetest.SQLite(t), k, clk, true, cfg))
	})
	base, ok := postgresEnv()
	if !ok {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, newPostgresFlowEnv(t, base, cfg))
	})
}

// postgresEnv is the PostgreSQL server the environment names, and whether it names Redis
// too.
func postgresEnv() (base string, ok bool) {
	base = os.Getenv(storetest.EnvPostgres)
	return base, base != "" && os.Getenv(kvtest.EnvRedis) != ""
}

// postgresOnlyFlowEnv is newPostgresFlowEnv for a case about PostgreSQL alone: it skips the
// case when the environment names no PostgreSQL and Redis.
func postgresOnlyFlowEnv(t *testing.T, cfg oauth.Config) *flowEnv {
	t.Helper()
	base, ok := postgresEnv()
	if !ok {
		t.Skip("needs PostgreSQL and Redis: set LOGINSIGN_TEST_DATABASE_URL and LOGINSIGN_TEST_REDIS_URL")
	}
	return newPostgresFlowEnv(t, base, cfg)
}

// newPostgresFlowEnv is a flow env on a fresh database of the PostgreSQL server base, with
// real Redis.
func newPostgresFlowEnv(t *testing.T, base string, cfg oauth.Config) *flowEnv {
	t.Helper()
	return newFlowEnv(t, storetest.Postgres(t, base), kvtest.Real(t), kvtest.NewClock(), false, cfg)
}

func newFlowEnv(t *testing.T, db *store.DB, k *kv.Store, clk *kvtest.Clock, embedded bool, cfg oauth.Config) *flowEnv {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = "https://id.test.example"
	}
	if cfg.RelayDomain == "" {
		cfg.RelayDomain = "relay.test.example"
	}
	id := identity.New(db, k, clk.Now, identity.SessionConfig{})
	return &flowEnv{svc: oauth.New(db, k, id, nil, testSealer(t), cfg, clk.Now), db: db, kv: k, clock: clk, embedded: embedded}
}

func testSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	sealer, err := seal.New([]byte("0123456789abcdef0123456789abcdef"), "signing keys")
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

// otherInstance is a second authorization server on e's database and store with e's
// configuration (its rotation key included): another process of the same deployment, whose
// in-process caches e's service does not see.
func (e *flowEnv) otherInstance(t *testing.T) *oauth.Service {
	t.Helper()
	return oauth.New(e.db, e.kv, e.svc.Identity, nil, testSealer(t), e.svc.Config, e.clock.Now)
}

// ctx is a request context from a documentation address of its own, so that the failure
// limits of client authentication (per address) of one case never reach another.
func (e *flowEnv) ctx() context.Context {
	return auth.WithClientIP(context.Background(), fmt.Sprintf("198.51.100.%d", e.n.Add(1)%250+1))
}

// client registers an application with redirect URIs and returns it with its secret.
func (e *flowEnv) client(t *testing.T, redirectURIs ...string) (*ent.Application, string) {
	t.Helper()
	return e.ownedClient(t, e.person(t), redirectURIs...)
}

// person creates an account with a fresh address.
func (e *flowEnv) person(t *testing.T) *ent.User {
	t.Helper()
	u, err := e.svc.Identity.CreateUser(context.Background(), fmt.Sprintf("person-%d-%s@example.com", e.n.Add(1), ids.New("")), "A Person")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authorize validates q through Authorize and fails the test on any error.
func (e *flowEnv) authorize(t *testing.T, q url.Values) *oauth.AuthorizeRequest {
	t.Helper()
	req, _, err := e.svc.Authorize(e.ctx(), q)
	if err != nil {
		t.Fatalf("Authorize(%v): %v", q, err)
	}
	return req
}

// code runs an authorization request for u through to its code (the person approves,
// sharing the masked address).
func (e *flowEnv) code(t *testing.T, u *ent.User, q url.Values) string {
	t.Helper()
	code, err := e.svc.Approve(e.ctx(), e.authorize(t, q), u.ID, oauth.ShareAlias, e.clock.Now())
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	return code
}

// expireCode makes an authorization code expire: on the embedded store by moving the clock
// past CodeTTL (the store's TTL does the rest); on real Redis, whose clock cannot move, by
// deleting the code's marker, which is what the TTL does after CodeTTL.
func (e *flowEnv) expireCode(t *testing.T, code string) {
	t.Helper()
	if e.embedded {
		e.clock.Advance(e.svc.Config.CodeTTL + time.Second)
		return
	}
	if err := e.kv.Del(context.Background(), "oc:"+ids.Hash(code), "ocg:"+ids.Hash(code)).Err(); err != nil {
		t.Fatal(err)
	}
}

// advance moves the clock forward by d. On the embedded store, whose clock it is, keys then
// expire by themselves; on real Redis, whose clock cannot move, every key's TTL is cut by d
// and the keys it ends are deleted, which is what d would have done.
func (e *flowEnv) advance(t *testing.T, d time.Duration) {
	t.Helper()
	e.clock.Advance(d)
	if e.embedded {
		return
	}
	ctx := context.Background()
	for keys := e.kv.Scan(ctx, 0, "*", 0).Iterator(); keys.Next(ctx); {
		ttl, err := e.kv.PTTL(ctx, keys.Val()).Result()
		switch {
		case err != nil:
			t.Fatal(err)
		case ttl <= 0: // no expiry, or gone meanwhile
		case ttl <= d:
			err = e.kv.Del(ctx, keys.Val()).Err()
		default:
			err = e.kv.PExpire(ctx, keys.Val(), ttl-d).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// token calls the token endpoint's domain operation.
func (e *flowEnv) token(id, secret string, form url.Values) (*oauth.TokenResponse, error) {
	return e.svc.Token(e.ctx(), oauth.ClientCredentials{ID: id, Secret: secret}, form)
}

// authzQuery is an authorization request of client for redirect, with S256 PKCE of verifier
// when verifier is not empty.
func authzQuery(client, redirect, verifier string, extra ...string) url.Values {
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"st-1"},
		"nonce": {"n-1"}}
	if verifier != "" {
		q.Set("code_challenge", oauth.S256(verifier))
		q.Set("code_challenge_method", "S256")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// codeForm is an authorization_code token request.
func codeForm(code, redirect, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

// wantOAuthError fails unless err is an *oauth.Error with code.
func wantOAuthError(t *testing.T, err error, code string) *oauth.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	e := oauth.AsError(err)
	if e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
	return e
}

// verifier is a valid PKCE code verifier (RFC 7636 §4.1), distinct per call.
func verifier() string { return strings.Repeat("v", 11) + ids.New("") + strings.Repeat("k", 32) }
