package cluster

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"loginsign/internal/mail/mailtest"
)

// EnvFlows sets how many sign-in flows the proof runs through the balancer: `make test` runs a
// short proof (150), `make cluster-test` the full one (1,000).
const EnvFlows = "LOGINSIGN_CLUSTER_FLOWS"

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// TestCluster is the multi-instance proof: three `loginsign serve` behind HAProxy on one
// PostgreSQL and a Redis Sentinel group, all started here from Debian's packages.
//
//  1. Sign-in flows through the balancer while one instance is SIGKILLed and restarted: no
//     flow fails (requests in flight on the killed instance are retried by the client).
//  2. Webhook events queued on all instances while one shuts down gracefully: every event
//     delivered, none twice.
//  3. The Redis primary is SIGKILLed under load: the Sentinels promote the replica and the
//     service answers again.
//  4. PostgreSQL restarts under a load of license redemptions and sign-ins: every
//     acknowledged redemption and connection is there afterwards.
func TestCluster(t *testing.T) {
	if m := Missing(); len(m) > 0 {
		t.Skipf("this machine lacks %v (the cluster proof needs Debian's haproxy, redis-sentinel and postgresql)", m)
	}
	flows := 150
	if v, err := strconv.Atoi(os.Getenv(EnvFlows)); err == nil && v > 0 {
		flows = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	dir := t.TempDir()
	bin := filepath.Join(dir, "loginsign")
	if out, err := execGo("build", "-o", bin, "loginsign"); err != nil {
		t.Fatalf("building loginsign: %v\n%s", err, out)
	}
	smtp := mailtest.Start(t)
	c, err := Start(ctx, Options{Bin: bin, Dir: filepath.Join(dir, "cluster"), Instances: 3, Sentinel: true,
		Env: map[string]string{"LOGINSIGN_SMTP_URL": smtp.URL()}, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	hooks := newReceiver()
	defer hooks.Close()
	a := createApp(t, c, bin, hooks.URL)
	mail := mailbox{smtp}
	provider, err := oidc.NewProvider(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	runner := &flowRunner{base: c.URL, app: a, mail: mail, verifier: provider.Verifier(&oidc.Config{ClientID: a.id})}

	var people []*flowResult
	t.Run("sign-in flows with an instance killed and restarted", func(t *testing.T) {
		before, err := c.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if after, err := c.Load(ctx); err == nil && len(people) > 0 {
				d := after.Sub(before)
				n := float64(len(people))
				t.Logf("per sign-in flow: %.1f PostgreSQL transactions, %.1f rows written, %.1f Redis commands",
					float64(d.Transactions)/n, float64(d.RowsWritten)/n, float64(d.RedisCommands)/n)
			}
		}()
		people = runFlows(t, ctx, runner, flows, "p", func(done int) {
			switch done {
			case flows / 4:
				// An operator rotates the signing keys while the instances serve.
				if out, err := rotateKeys(c, bin); err != nil {
					t.Errorf("keys rotate: %v\n%s", err, out)
				}
			case flows / 3:
				if err := c.Kill(1); err != nil {
					t.Error(err)
				}
			case 2 * flows / 3:
				if err := c.StartInstance(1); err != nil {
					t.Error(err)
				}
			}
		})
		if err := c.WaitReady(ctx, 1, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		// Every id_token verifies against the JWKS of every instance, asked directly.
		for _, in := range c.Instances() {
			keys := oidc.NewRemoteKeySet(ctx, "http://"+in.Addr+"/.well-known/jwks.json")
			v := oidc.NewVerifier(c.URL, keys, &oidc.Config{ClientID: a.id, SupportedSigningAlgs: []string{oidc.ES256, oidc.RS256}})
			for _, p := range people {
				raw, _ := p.token.Extra("id_token").(string)
				if _, err := v.Verify(ctx, raw); err != nil {
					t.Fatalf("id_token of %s against instance %d's JWKS: %v", p.email, in.N, err)
				}
			}
		}
	})
	if len(people) < flows {
		t.FailNow()
	}

	dev, err := signInSession(ctx, c.URL, mail, 9000, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("webhooks delivered once each across instances while one shuts down", func(t *testing.T) {
		// Deleting a connection queues user_account_deleted; a third of the people leave.
		var leaving []*flowResult
		for i, p := range people {
			if i%3 == 0 {
				leaving = append(leaving, p)
			}
		}
		stopped := make(chan error, 1)
		for i, p := range leaving {
			if i == len(leaving)/2 {
				go func() { stopped <- c.Stop(2) }()
			}
			res, err := retry(ctx, 20*time.Second, new(int64), nil, func() (answer, error) {
				return dev.do(ctx, http.MethodDelete, c.URL+"/api/developer/applications/"+a.id+"/users/"+p.connectionID, nil, nil)
			})
			if err != nil || res.status != http.StatusOK {
				t.Fatalf("deleting %s: %v %d %s", p.connectionID, err, res.status, res.body)
			}
		}
		if err := <-stopped; err != nil {
			t.Errorf("graceful stop of instance 2: %v", err)
		}
		if code := c.ExitCode(2); code != 0 {
			t.Errorf("instance 2 exited %d after SIGTERM, want 0\n%s", code, c.Log(2, 20))
		}
		if err := c.StartInstance(2); err != nil {
			t.Fatal(err)
		}
		events := countEvents(t, c.DatabaseURL, a.id)
		if events < len(leaving) {
			t.Fatalf("%d events queued for %d deleted connections", events, len(leaving))
		}
		deadline := time.Now().Add(90 * time.Second)
		for hooks.distinct() < events && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if got := hooks.distinct(); got != events {
			t.Fatalf("receiver got %d distinct webhook-ids, want %d", got, events)
		}
		if dups := hooks.duplicates(); len(dups) > 0 {
			t.Errorf("webhook-ids delivered more than once: %v", dups)
		}
		people = remove(people, leaving)
		if err := c.WaitReady(ctx, 2, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Redis primary killed under load: Sentinel failover", func(t *testing.T) {
		load := startLoad(ctx, c.URL, people)
		if load.waitHealthy(time.Now(), 20, 10*time.Second).IsZero() {
			st := load.stop()
			t.Fatalf("the load does not succeed before any fault: %v", st.statuses)
		}
		if _, err := c.KillRedisPrimary(); err != nil {
			t.Fatal(err)
		}
		killedAt := time.Now() // the process is gone
		// Served again: 20 consecutive successful requests after the kill.
		back := load.waitHealthy(killedAt, 20, 60*time.Second)
		st := load.stop()
		if back.IsZero() {
			t.Fatalf("service not back within 60 s of the primary's death; last errors: %v\n%s\n%s", st.lastErrors, c.RedisReport(), c.Log(0, 10))
		}
		t.Logf("Redis failover: service back %.2f s after SIGKILL of the primary; %d requests, %d failed (%v)",
			back.Sub(killedAt).Seconds(), st.total, st.failed, st.statuses)
		// A new sign-in works on the promoted primary.
		if _, err := runner.run(ctx, 9001, "after-failover@example.com"); err != nil {
			t.Fatalf("sign-in after failover: %v", err)
		}
	})

	t.Run("PostgreSQL restarted under load: nothing acknowledged is lost", func(t *testing.T) {
		variant := postJSON[struct {
			ID string `json:"id"`
		}](t, ctx, dev, c.URL+"/api/developer/applications/"+a.id+"/licenses/variants", map[string]any{"name": "Pro", "duration": "MONTH"})
		codes := postJSON[struct {
			Codes []string `json:"codes"`
		}](t, ctx, dev, c.URL+"/api/developer/applications/"+a.id+"/licenses/codes/generate", map[string]any{"variantId": variant.ID, "count": len(people)})

		var (
			mu       sync.Mutex
			redeemed = map[string]string{} // code → connection id, acknowledged with 200
			joined   []*flowResult
			wg       sync.WaitGroup
		)
		// Redemptions are paced over about five seconds so that the restart (at 0.5 s, down
		// for 2 s) falls in the middle of them.
		pace := 5 * time.Second * 4 / time.Duration(len(people))
		restarted := make(chan error, 1)
		go func() {
			time.Sleep(500 * time.Millisecond)
			restarted <- c.RestartPostgres(ctx, 2*time.Second)
		}()
		var retried atomic.Int64
		next := make(chan int)
		go func() {
			for i := range people {
				next <- i
			}
			close(next)
		}()
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					p, code := people[i], codes.Codes[i]
					body, _ := json.Marshal(map[string]string{"code": code})
					time.Sleep(pace)
					res, err := retry(ctx, 30*time.Second, new(int64), nil, func() (answer, error) {
						a, err := bearerPost(ctx, i, c.URL+"/api/user/licenses/redeem", p.token.AccessToken, body)
						if err != nil {
							retried.Add(1)
						}
						return a, err
					})
					if err == nil && res.status != http.StatusOK {
						t.Errorf("redeem %s: %d %s", code, res.status, res.body)
					}
					if err == nil && res.status == http.StatusOK {
						mu.Lock()
						redeemed[code] = p.connectionID
						mu.Unlock()
					}
				}
			}()
		}
		wg.Add(1)
		go func() { // sign-ins continue through the restart
			defer wg.Done()
			for i := 0; i < 10; i++ {
				r, err := runner.run(ctx, 9100+i, fmt.Sprintf("during-restart-%d@example.com", i))
				if err != nil {
					t.Logf("sign-in during the restart not acknowledged: %v", err)
					continue
				}
				mu.Lock()
				joined = append(joined, r)
				mu.Unlock()
			}
		}()
		wg.Wait()
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
		t.Logf("PostgreSQL restart: %d of %d redemptions (%d answers retried) and %d of 10 sign-ins acknowledged",
			len(redeemed), len(people), retried.Load(), len(joined))
		if len(redeemed) < len(people) {
			t.Errorf("only %d of %d redemptions succeeded after retries", len(redeemed), len(people))
		}
		// Every acknowledged redemption is held by its connection; every acknowledged sign-in
		// has its connection.
		owners := codeOwners(t, c.DatabaseURL, a.id)
		for code, conn := range redeemed {
			if owners[normCode(code)] != conn {
				t.Errorf("code %s acknowledged for %s is held by %q", code, conn, owners[code])
			}
		}
		conns := connections(t, c.DatabaseURL, a.id)
		for _, p := range append(append([]*flowResult(nil), people...), joined...) {
			if !conns[p.connectionID] {
				t.Errorf("connection %s (%s) acknowledged but missing", p.connectionID, p.email)
			}
		}
	})
}

// runFlows runs n sign-ins, six at a time, calling at(done) after each completes. A flow that
// fails is started again once from the beginning (its magic link may have been spent on the
// killed instance); a second failure fails the test.
func runFlows(t *testing.T, ctx context.Context, r *flowRunner, n int, prefix string, at func(done int)) []*flowResult {
	start := time.Now()
	var (
		mu      sync.Mutex
		out     []*flowResult
		done    int
		redone  int
		failed  []string
		next    = make(chan int)
		workers sync.WaitGroup
	)
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
	}()
	for w := 0; w < 6; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range next {
				email := fmt.Sprintf("%s%d@example.com", prefix, i)
				res, err := r.run(ctx, i, email)
				mu.Lock()
				if err != nil {
					redone++
					mu.Unlock()
					res, err = r.run(ctx, i, email)
					mu.Lock()
				}
				if err != nil {
					failed = append(failed, email+": "+err.Error())
				} else {
					out = append(out, res)
				}
				done++
				d := done
				mu.Unlock()
				at(d)
			}
		}()
	}
	workers.Wait()
	took := time.Since(start)
	t.Logf("%d sign-in flows through the balancer in %.1f s (%.1f flows/s); %d requests retried, %d flows started again",
		n, took.Seconds(), float64(n)/took.Seconds(), r.retries, redone)
	for _, f := range failed {
		t.Errorf("flow failed: %s", f)
	}
	return out
}

func remove(all, gone []*flowResult) []*flowResult {
	g := map[*flowResult]bool{}
	for _, p := range gone {
		g[p] = true
	}
	var out []*flowResult
	for _, p := range all {
		if !g[p] {
			out = append(out, p)
		}
	}
	return out
}

// rotateKeys runs `loginsign keys rotate` against the deployment's database, as an operator would.
func rotateKeys(c *Cluster, bin string) ([]byte, error) {
	cmd := exec.Command(bin, "keys", "rotate")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+c.DatabaseURL, "REDIS_URL="+c.RedisURL, "LOGINSIGN_SECRET="+c.Secret,
		"LOGINSIGN_BASE_URL="+c.URL, "LOGINSIGN_DATA_DIR="+filepath.Join(c.opts.Dir, "operator"), "LOGINSIGN_LOG_LEVEL=error")
	return cmd.CombinedOutput()
}

// createApp registers the test application with the CLI, as an operator would.
func createApp(t testing.TB, c *Cluster, bin, webhookURL string) app {
	t.Helper()
	args := []string{"apps", "create", "--owner", "dev@example.com", "--name", "Cluster App",
		"--redirect-uri", "https://app.example.test/callback", "--json"}
	if webhookURL != "" {
		args = append(args, "--webhook-url", webhookURL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+c.DatabaseURL, "REDIS_URL="+c.RedisURL, "LOGINSIGN_SECRET="+c.Secret,
		"LOGINSIGN_BASE_URL="+c.URL, "LOGINSIGN_DATA_DIR="+t.TempDir(), "LOGINSIGN_LOG_LEVEL=error")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apps create: %v", err)
	}
	var created struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal(out, &created); err != nil {
		t.Fatalf("apps create: %v\n%s", err, out)
	}
	return app{id: created.ClientID, secret: created.ClientSecret, redirect: "https://app.example.test/callback"}
}

// receiver is an app's webhook endpoint counting deliveries per webhook-id.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newReceiver() *receiver {
	r := &receiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return r
}

func (r *receiver) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *receiver) duplicates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id, n := range r.seen {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s×%d", id, n))
		}
	}
	sort.Strings(out)
	return out
}

func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func countEvents(t *testing.T, url, appID string) int {
	var n int
	if err := openDB(t, url).QueryRow(`SELECT count(*) FROM webhook_events WHERE application_id = $1 AND type <> 'ping'`, appID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func codeOwners(t *testing.T, url, appID string) map[string]string {
	rows, err := openDB(t, url).Query(`SELECT c.code, coalesce(c.linked_connection_id, '') FROM license_codes c WHERE c.application_id = $1`, appID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var code, conn string
		if err := rows.Scan(&code, &conn); err != nil {
			t.Fatal(err)
		}
		out[normCode(code)] = conn
	}
	return out
}

func connections(t *testing.T, url, appID string) map[string]bool {
	rows, err := openDB(t, url).Query(`SELECT id FROM app_connections WHERE application_id = $1`, appID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

func postJSON[T any](t *testing.T, ctx context.Context, v *visitor, u string, body any) T {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out T
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func bearerPost(ctx context.Context, n int, u, token string, body []byte) (answer, error) {
	v := &visitor{Client: &http.Client{Timeout: 15 * time.Second, Transport: fromAddress(n)}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := v.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%w: %v", errRetry, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	a := answer{status: resp.StatusCode, body: b.String(), url: u}
	if resp.StatusCode >= 502 && resp.StatusCode <= 504 {
		return a, fmt.Errorf("%w: %d", errRetry, resp.StatusCode)
	}
	return a, nil
}

// load sends GET /api/user with the people's tokens, four at a time, and records each answer.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	log    []sample
}

type sample struct {
	at     time.Time
	ok     bool
	status string
}

type loadStats struct {
	total, failed int
	statuses      map[string]int
	lastErrors    []string
}

func startLoad(ctx context.Context, base string, people []*flowResult) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel}
	cl := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 4; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ctx.Err() == nil; i += 4 {
				p := people[i%len(people)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/user", nil)
				req.Header.Set("Authorization", "Bearer "+p.token.AccessToken)
				s := sample{at: time.Now()}
				resp, err := cl.Do(req)
				if err != nil {
					s.status = "transport"
				} else {
					resp.Body.Close()
					s.ok, s.status = resp.StatusCode == http.StatusOK, strconv.Itoa(resp.StatusCode)
				}
				if ctx.Err() != nil {
					return
				}
				l.mu.Lock()
				l.log = append(l.log, s)
				l.mu.Unlock()
				if !s.ok {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

// waitHealthy returns when the first run of n consecutive successes started after since, or
// the zero time when none came within d.
func (l *load) waitHealthy(since time.Time, n int, d time.Duration) time.Time {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		run, start := 0, time.Time{}
		for _, s := range l.log {
			if s.at.Before(since) {
				continue
			}
			if !s.ok {
				run = 0
				continue
			}
			if run == 0 {
				start = s.at
			}
			if run++; run >= n {
				l.mu.Unlock()
				// "Back" is the first success of a healthy run after the last failure.
				return start
			}
		}
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}
}

func (l *load) stop() loadStats {
	l.cancel()
	l.wg.Wait()
	st := loadStats{statuses: map[string]int{}}
	for _, s := range l.log {
		st.total++
		if !s.ok {
			st.failed++
			st.statuses[s.status]++
			st.lastErrors = append(st.lastErrors, s.status)
			if len(st.lastErrors) > 5 {
				st.lastErrors = st.lastErrors[1:]
			}
		}
	}
	return st
}

func normCode(c string) string { return strings.ToUpper(strings.ReplaceAll(c, "-", "")) }

func execGo(args ...string) ([]byte, error) { return exec.Command("go", args...).CombinedOutput() }
