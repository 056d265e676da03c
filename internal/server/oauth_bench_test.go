package server

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	entdialect "entgo.io/ent/dialect"

	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// Benchmarks of the hot paths over loopback: a real http.Client against the real handler
// (newServer + routes()) on httptest.Server, next to BenchmarkBaselineRedisGET, a bare
// net/http handler doing one Redis GET on the same Redis, measured in the same run. With
// LOGINSIGN_TEST_DATABASE_URL and LOGINSIGN_TEST_REDIS_URL set they run on PostgreSQL and a
// real Redis; otherwise on SQLite and the embedded Redis. Each reports req/s and p99.

func benchEnv(b *testing.B, opts ...envOption) *oauthEnv {
	b.Helper()
	dbURL := "sqlite://" + filepath.Join(b.TempDir(), "bench.db")
	if base := os.Getenv(storetest.EnvPostgres); base != "" {
		dbURL = storetest.FreshPostgres(b, base)
	}
	e := newOAuthEnv(b, dbURL, opts...)
	unlimited := oauth.Limit{N: 1 << 30, Window: time.Minute}
	e.srv.oauth.Config.Limits = oauth.Limits{HealthcheckPerIP: unlimited,
		LoginPerAddress: unlimited, LoginPerAddressDay: unlimited, LoginPerIP: unlimited, LoginPerNetwork: unlimited, MagicConfirmPerIP: unlimited, FlowsPerNetwork: unlimited,
		FlowsPerAddress: unlimited, LoginPerSourceDay: unlimited}
	return e
}

// seededFamilies is how many refresh-token families the refresh grant's benchmarks add to
// the table beside their own. A deployment's table holds many, and PostgreSQL plans the
// rotations otherwise for a handful: with one family per client it chose the generic plan
// that, with thousands, it had to be told to (genericPlans in internal/oauth).
const seededFamilies = 20_000

// seedFamilies adds n refresh-token families to db, copies of one already there under ids
// of their own, then settles the database as a deployment's would be: SQLite's WAL
// checkpointed (the seeding's 10 MB of it cost the refresh grant about a tenth), PostgreSQL's
// statistics up to date (autovacuum's job).
func seedFamilies(tb testing.TB, db *sql.DB, dialect string, n int) {
	tb.Helper()
	ctx := context.Background()
	_, err := db.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < `+strconv.Itoa(n)+`)
		INSERT INTO refresh_tokens (id, token_hash, generation, current_hash, family_id, application_id, scopes,
			nonce, auth_time, amr, created_at, expires_at, rotated_at, revoked_at, connection_id)
		SELECT 'seed' || seq.i || r.id, 'seed' || seq.i || r.token_hash, r.generation, r.current_hash,
			'seed' || seq.i || r.family_id, r.application_id, r.scopes, r.nonce, r.auth_time, r.amr,
			r.created_at, r.expires_at, r.rotated_at, r.revoked_at, r.connection_id
		FROM seq, (SELECT * FROM refresh_tokens LIMIT 1) r`)
	if err != nil {
		tb.Fatal(err)
	}
	settle := "PRAGMA wal_checkpoint(TRUNCATE)"
	if dialect == entdialect.Postgres {
		settle = "ANALYZE refresh_tokens"
	}
	if _, err := db.ExecContext(ctx, settle); err != nil {
		tb.Fatal(err)
	}
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}, Timeout: 10 * time.Second}
}

// latencies collects per-request durations across goroutines and reports req/s and p99.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) { l.mu.Lock(); l.all = append(l.all, d...); l.mu.Unlock() }

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(l.all[len(l.all)*99/100].Microseconds()), "p99-µs")
}

// benchParallelism is runParallel's goroutines per GOMAXPROCS (testing.B.SetParallelism).
const benchParallelism = 4

// runParallel runs do in parallel goroutines, each with its own state from setup, and
// reports req/s and p99. Every goroutine's setup runs before the timer starts, one after
// the other: the figures are of do alone, with all the goroutines running from the start.
// The first failure fails the benchmark, with its error.
func runParallel(b *testing.B, setup func() func() error) {
	b.SetParallelism(benchParallelism)
	dos := make(chan func() error, benchParallelism*runtime.GOMAXPROCS(0)) // RunParallel's goroutines
	for range cap(dos) {
		dos <- setup()
	}
	var (
		lat      latencies
		failOnce sync.Once
		failed   error
	)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		do := <-dos
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := do(); err != nil {
				failOnce.Do(func() { failed = err })
				for pb.Next() { // RunParallel wants every iteration taken
				}
				break
			}
			mine = append(mine, time.Since(t0))
		}
		lat.add(mine)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	lat.report(b, elapsed)
}

func get(c *http.Client, u, bearer string) error {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return nil
}

// BenchmarkBaselineRedisGET is the floor: a bare net/http handler doing one Redis GET, over
// loopback with the same client.
func BenchmarkBaselineRedisGET(b *testing.B) {
	k, err := kv.Open(context.Background(), kvtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	k.Set(context.Background(), "bench:key", strings.Repeat("x", 200), 0)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := k.Get(r.Context(), "bench:key").Bytes()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(v)
	}))
	defer hs.Close()
	c := benchClient()
	runParallel(b, func() func() error { return func() error { return get(c, hs.URL, "") } })
}

// BenchmarkAPIUser is GET /api/user with a Bearer token: Redis lookup of the token, one SQL
// query for the connection and its user.
func BenchmarkAPIUser(b *testing.B) {
	e := benchEnv(b)
	tokens := e.signedInTokens(e.browser(), defaultTestEmail, "")
	access := tokens["access_token"].(string)
	c := benchClient()
	runParallel(b, func() func() error { return func() error { return get(c, e.base+"/api/user", access) } })
}

// BenchmarkRefreshGrant is POST /oauth/token grant_type=refresh_token: client
// authentication, one Redis transaction (the access token, the client's limits), the
// rotation of the family's row (shared with the rotations made meanwhile) and a signed
// id_token. Each goroutine rotates its own family.
func BenchmarkRefreshGrant(b *testing.B) {
	e := benchEnv(b)
	br := e.browser()
	e.signedInTokens(br, defaultTestEmail, "") // consent remembered from here on
	seedFamilies(b, e.srv.db.SQL, e.srv.db.Dialect, seededFamilies)
	c := benchClient()
	runParallel(b, func() func() error {
		refresh := e.signedInTokens(br, defaultTestEmail, "")["refresh_token"].(string)
		return func() error {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
			req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.app.ID, e.app.Secret)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			err = decodeBody(resp, &out)
			if err != nil || resp.StatusCode != 200 {
				return fmt.Errorf("refresh: %d %v", resp.StatusCode, err)
			}
			refresh = out.RefreshToken
			return nil
		}
	})
	// The rotations' group commit (docs/operations.md, "Sizing"): the mean batch, its write,
	// and the time a rotation waited for its batch, the one ahead included.
	st := e.srv.oauth.RotationStats()
	if n := st.Batches.Load(); n > 0 {
		b.ReportMetric(float64(st.Items.Load())/float64(n), "rotations/batch")
		b.ReportMetric(float64(st.Flush.Load())/float64(n)/1e3, "flush-µs")
		b.ReportMetric(float64(st.Wait.Load())/float64(st.Items.Load())/1e3, "wait-µs")
	}
}

// BenchmarkSignInFlow is a whole first sign-in: authorize, login form, magic link over SMTP,
// confirmation, consent (a new account and connection each time), code exchange with PKCE.
func BenchmarkSignInFlow(b *testing.B) {
	e := benchEnv(b)
	var n atomic.Int64
	start := time.Now()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		email := fmt.Sprintf("bench%d@example.com", n.Add(1))
		e.signedInTokens(e.browser(), email, "")
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "flows/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkIntrospect is POST /oauth/introspect (RFC 7662) of an active access token by its
// client: client authentication and one Redis lookup.
func BenchmarkIntrospect(b *testing.B) {
	e := benchEnv(b)
	access := e.signedInTokens(e.browser(), defaultTestEmail, "")["access_token"].(string)
	form := url.Values{"token": {access}}.Encode()
	c := benchClient()
	runParallel(b, func() func() error {
		return func() error {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/introspect", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.app.ID, e.app.Secret)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			var out struct {
				Active bool `json:"active"`
			}
			if err := decodeBody(resp, &out); err != nil || resp.StatusCode != 200 || !out.Active {
				return fmt.Errorf("introspect: %d %v active=%v", resp.StatusCode, err, out.Active)
			}
			return nil
		}
	})
}
