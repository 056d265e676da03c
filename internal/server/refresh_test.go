package server

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"loginsign/ent/refreshtoken"
	"loginsign/internal/cluster"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// Refresh rotation under retries, races and faults (issue 17): a retry of a just-rotated
// token gets the same pair; reuse after the grace window revokes the family, also under
// concurrency; a refresh whose Redis write or commit fails can be retried and the family
// survives; a wider scope is refused before the token is spent.

// signedIn runs a sign-in and the code exchange; it returns the token response.
func (e *oauthEnv) signedIn(email string) map[string]any {
	e.t.Helper()
	code, verifier := e.authorizeCode(e.browser(), email)
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	if st != 200 {
		e.t.Fatalf("code exchange: %d %v", st, body)
	}
	return body
}

// authorizeCodeScopes runs an authorization asking for scopes and returns the code.
func (e *oauthEnv) authorizeCodeScopes(b *browser, email string, scopes ...string) (code, verifier string) {
	e.t.Helper()
	verifier = oauth2.GenerateVerifier()
	p := b.get(e.config(e.app, rpCallback, scopes...).AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, email)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	q := callback(e.t, p)
	if q.Get("code") == "" {
		e.t.Fatalf("no code in callback: %v", q)
	}
	return q.Get("code"), verifier
}

// refreshOnce posts a refresh grant; safe from any goroutine.
func (e *oauthEnv) refreshOnce(refresh, scope string) (int, map[string]any, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.app.ID), url.QueryEscape(e.app.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("body not JSON: %q", raw)
	}
	return resp.StatusCode, body, nil
}

// shiftClock moves the authorization server's clock d ahead of the wall clock.
func (e *oauthEnv) shiftClock(d time.Duration) {
	e.srv.oauth.Now = func() time.Time { return time.Now().UTC().Add(d) }
}

func TestRefreshRetryWithinGraceGetsSamePair(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		first := e.signedIn(defaultTestEmail)
		old := first["refresh_token"].(string)
		st, a, err := e.refreshOnce(old, "")
		if err != nil || st != 200 {
			t.Fatalf("rotation: %d %v %v", st, a, err)
		}
		// The answer was lost; the client sends the same request again.
		st, b, err := e.refreshOnce(old, "")
		if err != nil || st != 200 {
			t.Fatalf("retry within the grace window: %d %v %v", st, b, err)
		}
		if a["refresh_token"] != b["refresh_token"] || a["access_token"] != b["access_token"] || a["scope"] != b["scope"] {
			t.Fatalf("retry answered another pair:\n%v\n%v", a, b)
		}
		if status, _, _ := e.apiUser(b["access_token"].(string)); status != 200 {
			t.Fatalf("access token of the retried rotation: %d", status)
		}
		if status, _, _ := e.apiUser(first["access_token"].(string)); status != 200 {
			t.Fatalf("the sign-in's first access token after a retry: %d, want 200 (no revocation)", status)
		}
		// The new refresh token rotates normally; the old one, once its successor is spent,
		// is reuse even inside the window.
		st, c, err := e.refreshOnce(b["refresh_token"].(string), "")
		if err != nil || st != 200 {
			t.Fatalf("rotating the successor: %d %v %v", st, c, err)
		}
		st, d, _ := e.refreshOnce(old, "")
		if st != 400 || d["error"] != "invalid_grant" {
			t.Fatalf("old token after its successor was used: %d %v, want invalid_grant", st, d)
		}
		if st, _, _ := e.refreshOnce(c["refresh_token"].(string), ""); st != 400 {
			t.Fatalf("family still usable after reuse: %d", st)
		}
		if status, _, _ := e.apiUser(c["access_token"].(string)); status != 401 {
			t.Fatalf("family access token after reuse: %d, want 401", status)
		}
	})
}

func TestRefreshConcurrentRetriesGetOnePair(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		old := e.signedIn(defaultTestEmail)["refresh_token"].(string)
		const n = 8
		var wg sync.WaitGroup
		got := make([]map[string]any, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				st, body, err := e.refreshOnce(old, "")
				if err == nil && st != 200 {
					err = fmt.Errorf("%d %v", st, body)
				}
				got[i], errs[i] = body, err
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("concurrent retry %d: %v", i, errs[i])
			}
			if got[i]["refresh_token"] != got[0]["refresh_token"] || got[i]["access_token"] != got[0]["access_token"] {
				t.Fatalf("concurrent retries answered different pairs: %v vs %v", got[i], got[0])
			}
		}
		row, err := e.srv.db.RefreshToken.Query().Only(t.Context())
		if err != nil || row.Generation != 1 {
			t.Fatalf("the sign-in's refresh row: %+v %v, want one row rotated once", row, err)
		}
	})
}

func TestRefreshConcurrentReuseAfterGraceRevokes(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		old := e.signedIn(defaultTestEmail)["refresh_token"].(string)
		st, next, err := e.refreshOnce(old, "")
		if err != nil || st != 200 {
			t.Fatalf("rotation: %d %v %v", st, next, err)
		}
		e.shiftClock(e.srv.oauth.Config.RefreshGrace + time.Second)
		const n = 8
		var wg sync.WaitGroup
		var ok, refused atomic.Int32
		for range n {
			wg.Go(func() {
				st, body, err := e.refreshOnce(old, "")
				switch {
				case err == nil && st == 200:
					ok.Add(1)
				case err == nil && st == 400 && body["error"] == "invalid_grant":
					refused.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 0 || refused.Load() != n {
			t.Fatalf("reuse after the window: %d answered tokens, %d invalid_grant; want 0 and %d", ok.Load(), refused.Load(), n)
		}
		if st, body, _ := e.refreshOnce(next["refresh_token"].(string), ""); st != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("the family's current refresh token after reuse: %d %v", st, body)
		}
		if status, _, _ := e.apiUser(next["access_token"].(string)); status != 401 {
			t.Fatalf("the family's access token after reuse: %d, want 401", status)
		}
	})
}

// A refresh over the client's quota changes nothing. The quota is counted in the round trip
// that writes the rotation's access token, before the rotation: refused, the refresh token
// stays live, the access token written with the count is deleted again, and a reused token
// revokes nothing (the 429 answers first). Once the window turns, the same token rotates.
func TestRefreshOverTheQuotaChangesNothing(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := t.Context()
		if err := e.srv.db.Application.UpdateOneID(e.app.ID).SetClientRequestsPerMinute(3).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		first := e.signedIn(defaultTestEmail) // the quota's first request
		var last map[string]any
		for i := range 2 {
			refresh := first["refresh_token"].(string)
			if last != nil {
				refresh = last["refresh_token"].(string)
			}
			st, body, err := e.refreshOnce(refresh, "")
			if err != nil || st != 200 {
				t.Fatalf("rotation %d within the quota: %d %v %v", i+1, st, body, err)
			}
			last = body
		}
		live := last["refresh_token"].(string)
		rt, err := e.srv.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(first["refresh_token"].(string)))).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		familyTokens := func() int64 {
			hashes, err := e.srv.oauth.FamilyAccessTokens(ctx, rt.FamilyID)
			if err != nil {
				t.Fatal(err)
			}
			return int64(len(hashes))
		}
		tokens := familyTokens()
		st, body, err := e.refreshOnce(live, "")
		if err != nil || st != 429 || body["error"] != "rate_limited" {
			t.Fatalf("rotation over the quota: %d %v %v, want 429 rate_limited", st, body, err)
		}
		if n := familyTokens(); n != tokens {
			t.Fatalf("access tokens of the family after a refused rotation: %d, want %d", n, tokens)
		}
		after, err := e.srv.db.RefreshToken.Get(ctx, rt.ID)
		if err != nil || after.Generation != 2 || *after.CurrentHash != ids.Hash(live) {
			t.Fatalf("the row after a refused rotation: %+v %v; want generation 2, the live token unspent", after, err)
		}
		if st, body, _ := e.refreshOnce(first["refresh_token"].(string), ""); st != 429 {
			t.Fatalf("a reused token over the quota: %d %v, want 429", st, body)
		}
		if status, _, _ := e.apiUser(last["access_token"].(string)); status != 200 {
			t.Fatalf("the family's access token after reuse over the quota: %d, want 200 (nothing revoked)", status)
		}
		if err := e.srv.kv.Del(ctx, "rl:client-quota:"+e.app.ID).Err(); err != nil { // the window turns
			t.Fatal(err)
		}
		st, next, err := e.refreshOnce(live, "")
		if err != nil || st != 200 {
			t.Fatalf("the refused token once the window turned: %d %v %v", st, next, err)
		}
		if status, _, _ := e.apiUser(next["access_token"].(string)); status != 200 {
			t.Fatalf("its access token: %d", status)
		}
	})
}

// Issue 16: a refresh asking for a scope the grant does not hold answers invalid_scope and
// leaves the refresh token usable; a narrower scope is granted.
func TestRefreshWiderScopeLeavesTokenValid(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		code, verifier := e.authorizeCodeScopes(b, defaultTestEmail, "openid", "email")
		st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
		if st != 200 || body["scope"] != "openid email" {
			t.Fatalf("code exchange: %d %v", st, body)
		}
		rt := body["refresh_token"].(string)
		for _, scope := range []string{"openid email profile", "profile", "admin"} {
			st, got, err := e.refreshOnce(rt, scope)
			if err != nil || st != 400 || got["error"] != "invalid_scope" {
				t.Fatalf("scope %q: %d %v %v, want 400 invalid_scope", scope, st, got, err)
			}
		}
		st, got, err := e.refreshOnce(rt, "email")
		if err != nil || st != 200 || got["scope"] != "email" || got["id_token"] != nil {
			t.Fatalf("narrower refresh after refused ones: %d %v %v", st, got, err)
		}
	})
}

// redisProc is a redis-server this test starts, stops and starts again on one port.
type redisProc struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// startRedis starts a private redis-server (no persistence) on a free loopback port.
func startRedis(t testing.TB) *redisProc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed for the fault tests: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisProc{t: t, port: port}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

func (r *redisProc) URL() string  { return "redis://" + r.Addr() + "/0" }
func (r *redisProc) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start runs the server and waits until it accepts connections.
func (r *redisProc) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on port %d did not start", r.port)
}

// Stop kills the server (SIGKILL: like a crash) and waits for it.
func (r *redisProc) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// A refresh whose access-token write to Redis fails rolls back: the refresh token stays
// unspent, the client's retry rotates, and the family (its earlier access token included)
// survives. The write is refused by Redis itself (an ACL denying the access-token keys).
func TestRefreshRedisWriteFailureIsRetryable(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			r := startRedis(t)
			e := newOAuthEnv(t, dbURL, withEnv("REDIS_URL", r.URL()))
			first := e.signedIn(defaultTestEmail)
			old := first["refresh_token"].(string)
			admin := redis.NewClient(&redis.Options{Addr: r.Addr(), Username: "default"})
			defer admin.Close()
			ctx := t.Context()
			if err := admin.Do(ctx, "ACL", "SETUSER", "admin", "on", ">pw", "~*", "&*", "+@all").Err(); err != nil {
				t.Fatal(err)
			}
			admin = redis.NewClient(&redis.Options{Addr: r.Addr(), Username: "admin", Password: "pw"})
			defer admin.Close()
			// Everything the token endpoint touches but the access tokens.
			if err := admin.Do(ctx, "ACL", "SETUSER", "default", "resetkeys", "~rl:*", "~frv:*", "~fat:*", "~keys:*").Err(); err != nil {
				t.Fatal(err)
			}
			st, body, err := e.refreshOnce(old, "")
			if err != nil || st != 500 || body["error"] != "server_error" {
				t.Fatalf("refresh whose Redis write fails: %d %v %v, want 500 server_error", st, body, err)
			}
			rt, err := e.srv.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(old))).Only(ctx)
			if err != nil || rt.Generation != 0 || rt.CurrentHash == nil || *rt.CurrentHash != ids.Hash(old) {
				t.Fatalf("the refresh token after a failed rotation: %+v %v; want it live", rt, err)
			}
			if err := admin.Do(ctx, "ACL", "SETUSER", "default", "allkeys").Err(); err != nil {
				t.Fatal(err)
			}
			st, next, err := e.refreshOnce(old, "")
			if err != nil || st != 200 {
				t.Fatalf("retry after Redis accepts writes again: %d %v %v", st, next, err)
			}
			if status, _, _ := e.apiUser(next["access_token"].(string)); status != 200 {
				t.Fatalf("access token of the retried refresh: %d", status)
			}
			if status, _, _ := e.apiUser(first["access_token"].(string)); status != 200 {
				t.Fatalf("the family's first access token: %d, want 200 (not revoked)", status)
			}
			if st, again, _ := e.refreshOnce(next["refresh_token"].(string), ""); st != 200 {
				t.Fatalf("family after the fault: %d %v", st, again)
			}
		})
	}
}

// commitFault makes every commit that rotated a refresh token fail, at COMMIT time: a
// deferred constraint trigger on PostgreSQL, a deferred foreign-key violation on SQLite.
var commitFault = map[string][]string{
	"postgres": {
		`CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN RAISE EXCEPTION 'injected commit failure'; END $$`,
		`CREATE CONSTRAINT TRIGGER fail_commit AFTER UPDATE ON refresh_tokens
		 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit()`,
	},
	"sqlite": {
		`CREATE TABLE fault_parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE fault_child (parent INTEGER REFERENCES fault_parent(id) DEFERRABLE INITIALLY DEFERRED)`,
		`CREATE TRIGGER fail_commit AFTER UPDATE ON refresh_tokens BEGIN INSERT INTO fault_child VALUES (42); END`,
	},
}

// A refresh whose commit fails after the access token was written can be retried: the retry
// rotates to the same tokens and the family survives.
func TestRefreshCommitFailureIsRetryable(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		first := e.signedIn(defaultTestEmail)
		old := first["refresh_token"].(string)
		ctx := t.Context()
		dialect := "sqlite"
		if strings.HasPrefix(dbURL, "postgres") {
			dialect = "postgres"
		}
		for _, q := range commitFault[dialect] {
			if _, err := e.srv.db.SQL.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		st, body, err := e.refreshOnce(old, "")
		if err != nil || st != 500 {
			t.Fatalf("refresh whose commit fails: %d %v %v, want 500", st, body, err)
		}
		rt, err := e.srv.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(old))).Only(ctx)
		if err != nil || rt.Generation != 0 || rt.CurrentHash == nil || *rt.CurrentHash != ids.Hash(old) {
			t.Fatalf("the refresh token after a failed commit: %+v %v; want it live", rt, err)
		}
		drop := "DROP TRIGGER fail_commit"
		if dialect == "postgres" {
			drop += " ON refresh_tokens"
		}
		if _, err := e.srv.db.SQL.ExecContext(ctx, drop); err != nil {
			t.Fatal(err)
		}
		st, next, err := e.refreshOnce(old, "")
		if err != nil || st != 200 {
			t.Fatalf("retry after the failed commit: %d %v %v", st, next, err)
		}
		if status, _, _ := e.apiUser(next["access_token"].(string)); status != 200 {
			t.Fatalf("access token of the retried refresh: %d", status)
		}
		if status, _, _ := e.apiUser(first["access_token"].(string)); status != 200 {
			t.Fatalf("the family's first access token: %d, want 200 (not revoked)", status)
		}
		if st, again, _ := e.refreshOnce(next["refresh_token"].(string), ""); st != 200 {
			t.Fatalf("family after the fault: %d %v", st, again)
		}
	})
}

// TestRefreshTokensSurviveAPostgresCrash: PostgreSQL of the test's own crashes (pg_ctl stop
// -m immediate) right after rounds of concurrent rotations, and starts again. With the
// rotations committed asynchronously (the default) the crash loses the last of them, so
// their clients hold tokens ahead of their rows; with LOGINSIGN_ROTATION_COMMIT=sync it
// loses none. Either way every client's last token rotates once the database is back:
// nobody is signed out. The WAL writer waits 10 s between rounds (wal_writer_delay), so
// that the rotations of the last moments are still in its buffers at the crash, as at the
// worst moment of a real one.
func TestRefreshTokensSurviveAPostgresCrash(t *testing.T) {
	if err := cluster.PostgresMissing(); err != nil {
		t.Skipf("the crash needs a PostgreSQL of the test's own: %v", err)
	}
	for _, commit := range []string{"async", "sync"} {
		t.Run(commit, func(t *testing.T) {
			ctx := t.Context()
			pg, err := cluster.StartPostgres(ctx, t.TempDir(), "loginsign", "wal_writer_delay=10s")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pg.Stop)
			e := newOAuthEnv(t, pg.URL("loginsign"), withEnv("LOGINSIGN_ROTATION_COMMIT", commit))
			const families, rounds = 24, 4
			tokens := make([]string, families)
			b := e.browser()
			for i := range tokens {
				code, verifier := e.authorizeCode(b, defaultTestEmail)
				st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
				if st != 200 {
					t.Fatalf("sign-in %d: %d %v", i, st, body)
				}
				tokens[i] = body["refresh_token"].(string)
			}
			for range rounds {
				var wg sync.WaitGroup
				for i := range tokens {
					wg.Go(func() {
						st, body, err := e.refreshOnce(tokens[i], "")
						if err != nil || st != 200 {
							t.Errorf("family %d before the crash: %d %v %v", i, st, body, err)
							return
						}
						tokens[i] = body["refresh_token"].(string)
					})
				}
				wg.Wait()
			}
			if t.Failed() {
				t.FailNow()
			}
			if err := pg.Crash(); err != nil {
				t.Fatal(err)
			}
			if err := pg.Start(ctx); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("pgx", pg.URL("loginsign"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			behind := 0
			for i, tok := range tokens {
				row, gen, _ := strings.Cut(strings.TrimPrefix(tok, oauth.RefreshTokenPrefix), ".")
				gen, _, _ = strings.Cut(gen, ".")
				var held int
				if err := db.QueryRowContext(ctx, "SELECT generation FROM refresh_tokens WHERE id = $1", row).Scan(&held); err != nil {
					t.Fatalf("family %d's row after the crash: %v", i, err)
				}
				if strconv.Itoa(held) != gen {
					behind++
				}
			}
			t.Logf("%s commits: %d of %d families' rows behind their client's token after the crash", commit, behind, families)
			switch {
			case commit == "sync" && behind != 0:
				t.Errorf("synchronous commits lost %d rotations", behind)
			case commit == "async" && behind == 0:
				t.Errorf("the crash lost no asynchronous rotation: nothing here was put to the test")
			}
			for i, tok := range tokens {
				// The server's connections to the crashed database fail once each: 5xx, retried.
				for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					st, body, err := e.refreshOnce(tok, "")
					if err == nil && st == 200 {
						break
					}
					if (err != nil || st >= 500) && time.Now().Before(deadline) {
						continue
					}
					t.Errorf("family %d after the crash: %d %v %v, want its client still signed in", i, st, body, err)
					break
				}
			}
		})
	}
}

// TestBatchMetrics: the group-commit queues' counters are on the metrics listener. A refresh
// grant's rotation is one call of the refresh_rotations queue, in one batch, its write and
// its wait timed; the refresh's Redis calls go through the redis queue when there is a
// Redis server to batch them for, and there is no such queue on the embedded store.
func TestBatchMetrics(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		for _, redisURL := range slices.Compact([]string{kvtest.URL(t), ""}) {
			e := newOAuthEnv(t, dbURL, withEnv("REDIS_URL", redisURL))
			tokens := e.signedIn(defaultTestEmail)
			rotations, calls := batchCounters(t, e, "refresh_rotations"), batchCounters(t, e, "redis")
			if st, body, err := e.refreshOnce(tokens["refresh_token"].(string), ""); err != nil || st != 200 {
				t.Fatalf("refresh: %d %v %v", st, body, err)
			}
			after := batchCounters(t, e, "refresh_rotations")
			if d := after["loginsign_batch_items_total"] - rotations["loginsign_batch_items_total"]; d != 1 {
				t.Errorf("REDIS_URL %q: a refresh added %v rotations, want 1", redisURL, d)
			}
			if d := after["loginsign_batches_total"] - rotations["loginsign_batches_total"]; d != 1 {
				t.Errorf("REDIS_URL %q: a lone refresh added %v batches, want 1", redisURL, d)
			}
			flush := after["loginsign_batch_flush_seconds_total"] - rotations["loginsign_batch_flush_seconds_total"]
			wait := after["loginsign_batch_wait_seconds_total"] - rotations["loginsign_batch_wait_seconds_total"]
			if flush <= 0 || wait < flush {
				t.Errorf("REDIS_URL %q: the rotation's write took %vs and its wait %vs: want a write, and a wait as long at least", redisURL, flush, wait)
			}
			redisAfter := batchCounters(t, e, "redis")
			switch {
			case redisURL == "" && (len(calls) > 0 || len(redisAfter) > 0):
				t.Errorf("the embedded store has a redis queue: %v", redisAfter)
			case redisURL != "" && redisAfter["loginsign_batch_items_total"] <= calls["loginsign_batch_items_total"]:
				t.Errorf("Redis server: the refresh's calls were not counted (%v, then %v)", calls, redisAfter)
			}
		}
	})
}

// batchCounters are the group-commit counters of queue on e's metrics listener, by name
// (none when the queue is not there).
func batchCounters(t *testing.T, e *oauthEnv, queue string) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	e.srv.metricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]float64{}
	for line := range strings.Lines(rec.Body.String()) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), `{queue="`+queue+`"} `)
		if !ok || !strings.HasPrefix(name, "loginsign_batch") {
			continue
		}
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[name] = v
	}
	return out
}
