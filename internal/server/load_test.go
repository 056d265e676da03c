//go:build loadtest

package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"

	"loginsign/internal/server/servertest"
)

// TestLoad is `make bench-load`: a load-tool run against real server processes on loopback,
// next to the one-Redis-GET baseline (internal/bench/baseline) in the same run.
//
// For each backend (SQLite + the embedded store; PostgreSQL + Redis when
// LOGINSIGN_TEST_DATABASE_URL and LOGINSIGN_TEST_REDIS_URL are set) it signs people in with
// an in-process server (the test helpers: authorize, magic link, consent, code exchange),
// stops it, and starts `bin/loginsign serve` and `bin/baseline` on the same database and
// Redis. Then, at 16 and 64 connections:
//   - wrk drives the baseline (GET, one Redis GET), GET /api/user (Bearer),
//     POST /oauth/introspect (client_secret_basic) and the refresh grant (refreshScript);
//   - a Go load generator drives the baseline and the refresh grant (refresh tokens are
//     single-use, so each connection rotates its own family and sends the next token), in
//     alternation: LOGINSIGN_LOAD_ROUNDS rounds of each (default 4), dur in all for each.
//
// It prints req/s and p99 of each, and the ratios to the baseline of the same tool. It is
// behind the loadtest build tag: `go test ./...` and CI never need wrk.
func TestLoad(t *testing.T) {
	// LOGINSIGN_LOAD_WRK=off leaves out wrk's runs (and Hydra): the refresh grant and its
	// baseline alone, to compare two builds quickly.
	withWrk := os.Getenv("LOGINSIGN_LOAD_WRK") != "off"
	wrk, err := exec.LookPath("wrk")
	if err != nil && withWrk {
		t.Fatal("wrk is missing (Debian: apt-get install wrk)")
	}
	bin, _ := filepath.Abs(envOr("LOGINSIGN_BIN", servertest.Path("bin", "loginsign")))
	baseBin, _ := filepath.Abs(envOr("LOGINSIGN_BASELINE_BIN", servertest.Path("bin", "baseline")))
	dur, err := time.ParseDuration(envOr("LOGINSIGN_LOAD_DURATION", "8s"))
	if err != nil {
		t.Fatal(err)
	}
	// LOGINSIGN_LOAD_ROUNDS: the Go generator's baseline and refresh grant alternate in this
	// many rounds of dur/rounds each (alternate).
	rounds, err := strconv.Atoi(envOr("LOGINSIGN_LOAD_ROUNDS", "4"))
	if err != nil || rounds < 1 {
		t.Fatalf("LOGINSIGN_LOAD_ROUNDS %q: want a positive number", os.Getenv("LOGINSIGN_LOAD_ROUNDS"))
	}
	// LOGINSIGN_HYDRA_BIN names an Ory Hydra binary (built with -tags sqlite for its SQLite
	// variants) measured in the same run, interleaved: after LoginSign at each concurrency.
	hydraBin := os.Getenv("LOGINSIGN_HYDRA_BIN")
	if !withWrk {
		hydraBin = ""
	}
	type backend struct {
		name, db, redis string
		hydra           map[string]string // Hydra variant → DSN
	}
	hydraDir := t.TempDir()
	backends := []backend{{"sqlite+embedded", "sqlite://" + filepath.Join(t.TempDir(), "load.db"), "",
		map[string]string{"SQLite memory": "memory", "SQLite file": "sqlite://" + filepath.Join(hydraDir, "hydra.sqlite") + "?_fk=true"}}}
	if pg, rd := os.Getenv(storetest.EnvPostgres), os.Getenv(kvtest.EnvRedis); pg != "" && rd != "" {
		backends = append(backends, backend{"postgres+redis", storetest.FreshPostgres(t, pg), kvtest.URL(t),
			map[string]string{"PostgreSQL": ""}})
	}
	// LOGINSIGN_LOAD_BACKENDS names the backends to run, comma-separated (default: all).
	if only := os.Getenv("LOGINSIGN_LOAD_BACKENDS"); only != "" {
		backends = slices.DeleteFunc(backends, func(be backend) bool { return !slices.Contains(strings.Split(only, ","), be.name) })
		if len(backends) == 0 {
			t.Fatalf("LOGINSIGN_LOAD_BACKENDS=%s names none of the backends (sqlite+embedded, postgres+redis)", only)
		}
	}
	var report strings.Builder
	for _, be := range backends {
		fmt.Fprintf(&report, "\n%s (wrk -t2, Go generator; %s per run, the Go runs in %d alternating rounds)\n", be.name, dur, rounds)
		var hs []*hydra
		if hydraBin != "" {
			for _, name := range slices.Sorted(maps.Keys(be.hydra)) {
				dsn := be.hydra[name]
				if dsn == "" {
					dsn = storetest.FreshPostgres(t, os.Getenv(storetest.EnvPostgres))
				}
				hs = append(hs, startHydra(t, hydraBin, name, dsn, hydraDir, 64))
			}
		}
		runLoad(t, &report, wrk, bin, baseBin, be.name, be.db, be.redis, dur, rounds, withWrk, hs)
	}
	fmt.Println(report.String())
	if out := os.Getenv("LOGINSIGN_LOAD_OUT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func runLoad(t *testing.T, report io.Writer, wrk, bin, baseBin, name, dbURL, redisURL string, dur time.Duration, rounds int, withWrk bool, hydras []*hydra) {
	dir := t.TempDir()
	// Sign people in with an in-process server on the same stores, then stop it.
	e := newOAuthEnv(t, dbURL, withEnv("LOGINSIGN_DATA_DIR", dir), withEnv("REDIS_URL", redisURL))
	ctx := context.Background()
	if err := e.srv.db.Application.UpdateOneID(e.app.ID).SetClientRequestsPerMinute(1_000_000).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	br := e.browser()
	access := e.signedInTokens(br, defaultTestEmail, "")["access_token"].(string)
	const families = 64
	signIn := func(n int) []string {
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = e.signedInTokens(br, defaultTestEmail, "")["refresh_token"].(string)
		}
		return tokens
	}
	refresh := signIn(families)
	// wrk's refresh runs rotate families of their own, one per connection (and a spare for
	// each thread: refreshScript), fresh for each concurrency: a run ends with rotations in
	// flight whose answers it never read.
	wrkFamilies := map[int][]string{}
	if withWrk {
		for _, c := range []int{16, 64} {
			wrkFamilies[c] = signIn(c + 2)
		}
	}
	seedFamilies(t, e.srv.db.SQL, e.srv.db.Dialect, seededFamilies)
	e.http.Close()
	e.srv.Close()

	addr, baseAddr := freeAddr(t), freeAddr(t)
	srv := exec.Command(bin, "serve")
	srv.Env = append(os.Environ(), "LOGINSIGN_BASE_URL=http://"+addr, "LOGINSIGN_ADDR="+addr, "DATABASE_URL="+dbURL,
		"REDIS_URL="+redisURL, "LOGINSIGN_DATA_DIR="+dir, "LOGINSIGN_SECRET="+testSecretHex,
		"LOGINSIGN_LOG_LEVEL=error", "LOGINSIGN_METRICS_ADDR=off", "LOGINSIGN_SHUTDOWN_DRAIN=0s")
	// LOGINSIGN_LOAD_PROFILE names a directory: each LoginSign run then also takes a CPU
	// profile of the server from its debug listener (name-c16-user.prof, …), over span (the
	// refresh grant's covers its baseline's rounds too, when the server is idle).
	profDir, debugAddr := os.Getenv("LOGINSIGN_LOAD_PROFILE"), ""
	if profDir != "" {
		debugAddr = freeAddr(t)
		srv.Env = append(srv.Env, "LOGINSIGN_DEBUG_ADDR="+debugAddr)
	}
	profiled := func(file string, span time.Duration, run func()) {
		if profDir == "" {
			run()
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			secs := max(int(span.Seconds())-1, 1)
			resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, secs))
			if err != nil {
				t.Errorf("profile %s: %v", file, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(profDir, name+"-"+file+".prof"))
			if err != nil {
				t.Errorf("profile %s: %v", file, err)
				return
			}
			defer f.Close()
			io.Copy(f, resp.Body)
		}()
		run()
		<-done
	}
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	base := exec.Command(baseBin, "-addr", baseAddr)
	base.Env = append(os.Environ(), "REDIS_URL="+redisURL)
	base.Stdout, base.Stderr = os.Stderr, os.Stderr
	for _, c := range []*exec.Cmd{srv, base} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	waitUp(t, "http://"+addr+"/readyz")
	waitUp(t, "http://"+baseAddr+"/")
	time.Sleep(10 * time.Second)
	fmt.Fprintf(report, "  server RSS idle 10 s after start: %s\n", rss(srv.Process.Pid))

	userLua := writeLua(t, dir, "user.lua", fmt.Sprintf("wrk.headers[\"Authorization\"] = \"Bearer %s\"\n", access))
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(e.app.ID) + ":" + url.QueryEscape(e.app.Secret)))
	introLua := writeLua(t, dir, "introspect.lua", fmt.Sprintf(`wrk.method = "POST"
wrk.body = "token=%s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %s"
`, url.QueryEscape(access), basic))

	for _, c := range []int{16, 64} {
		var bw, uw, iw, rw result
		if withWrk {
			bw = runWrk(t, wrk, c, dur, "", "http://"+baseAddr+"/", base.Process.Pid)
			profiled(fmt.Sprintf("c%d-user", c), dur, func() { uw = runWrk(t, wrk, c, dur, userLua, "http://"+addr+"/api/user", srv.Process.Pid) })
			profiled(fmt.Sprintf("c%d-introspect", c), dur, func() {
				iw = runWrk(t, wrk, c, dur, introLua, "http://"+addr+"/oauth/introspect", srv.Process.Pid)
			})
			refreshLua := writeLua(t, dir, fmt.Sprintf("refresh%d.lua", c), refreshScript(basic, wrkFamilies[c]))
			profiled(fmt.Sprintf("c%d-refresh-wrk", c), dur, func() {
				rw = runWrk(t, wrk, c, dur, refreshLua, "http://"+addr+"/oauth/token", srv.Process.Pid)
			})
		}
		var bg, rg result
		profiled(fmt.Sprintf("c%d-refresh", c), 2*dur, func() {
			bg, rg = alternate(t, dur, rounds, func(d time.Duration) goRun {
				return runGo(t, c, d, base.Process.Pid, func(cl *http.Client, _ int) error { return getOK(cl, "http://"+baseAddr+"/") })
			}, func(d time.Duration) goRun {
				return runGo(t, c, d, srv.Process.Pid, func(cl *http.Client, i int) error {
					next, err := refreshGrant(cl, "http://"+addr, e.app.ID, e.app.Secret, refresh[i])
					if err == nil {
						refresh[i] = next
					}
					return err
				})
			})
		})
		fmt.Fprintf(report, "  c=%d\n", c)
		if withWrk {
			fmt.Fprintf(report, "    baseline GET (wrk)      %s\n", bw)
			fmt.Fprintf(report, "    GET /api/user (wrk)     %s  %s\n", uw, ratio(uw, bw))
			fmt.Fprintf(report, "    introspection (wrk)     %s  %s\n", iw, ratio(iw, bw))
			fmt.Fprintf(report, "    refresh grant (wrk)     %s  %s\n", rw, ratio(rw, bw))
		}
		fmt.Fprintf(report, "    baseline GET (Go)       %s\n", bg)
		fmt.Fprintf(report, "    refresh grant (Go)      %s  %s\n", rg, ratio(rg, bg))
		for _, h := range hydras {
			runHydra(t, report, wrk, h, c, dur, bw, bg)
		}
	}
	fmt.Fprintf(report, "  server RSS after the runs: %s\n", rss(srv.Process.Pid))
}

func waitUp(t *testing.T, u string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", u)
}

func rss(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS", "RssAnon", "RssFile", "VmHWM"} {
			if strings.HasPrefix(l, k+":") {
				out = append(out, k+" "+strings.Join(strings.Fields(l)[1:], " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

func writeLua(t *testing.T, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// result is one load run.
type result struct {
	rps    float64
	p99    time.Duration
	errors int
	// cpu is the server's CPU time (user and system) per successful request, when metered.
	// It moves less than the rate with what else the machine runs, not nothing: the cores'
	// caches and hyperthreads are shared too.
	cpu time.Duration
	// tool is wrk's CPU time per successful request: it shares the cores with the server.
	tool time.Duration
}

func (r result) String() string {
	s := fmt.Sprintf("%8.0f req/s  p99 %7.2f ms", r.rps, float64(r.p99.Microseconds())/1000)
	if r.cpu > 0 {
		s += fmt.Sprintf("  server CPU %4d µs/req", r.cpu.Microseconds())
	}
	if r.tool > 0 {
		s += fmt.Sprintf("  wrk CPU %3d µs/req", r.tool.Microseconds())
	}
	if r.errors > 0 {
		s += fmt.Sprintf("  (%d errors)", r.errors)
	}
	return s
}

// ratio is r's rate against base's, to three places (two showed 0.248 as 0.25), and, when
// wrk's CPU was metered for both, base's CPU per request against r's, the server's and wrk's
// together: with the two sharing two cores, the rates' ratio moves with the machine from
// one run to the next, and this one a little less (fourteen runs of README "Performance",
// eighteenth pass: 0.193–0.273× by rate, 0.191–0.259× by CPU).
func ratio(r, base result) string {
	s := fmt.Sprintf("%.3fx", r.rps/base.rps)
	if r.cpu > 0 && r.tool > 0 && base.cpu > 0 && base.tool > 0 {
		s += fmt.Sprintf(" (CPU %.3fx)", float64(base.cpu+base.tool)/float64(r.cpu+r.tool))
	}
	return s
}

// cpuTime is the CPU time, user and system, that process pid has used (0 for pid 0).
func cpuTime(t *testing.T, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("reading the server's CPU time: %v", err)
	}
	// The fields after the command's closing parenthesis; utime and stime are the 14th and
	// 15th of the line, in clock ticks of 1/100 s (USER_HZ).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP99    = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkTotal  = regexp.MustCompile(`(\d+) requests in `)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk runs wrk at c connections for dur against u (with script, when not ""), and meters
// process pid's CPU time (not when 0).
func runWrk(t *testing.T, wrk string, c int, dur time.Duration, script, u string, pid int) result {
	args := []string{"-t2", "-c" + strconv.Itoa(c), "-d" + dur.String(), "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	cpu0 := cpuTime(t, pid)
	cmd := exec.Command(wrk, append(args, u)...)
	out, err := cmd.CombinedOutput()
	cpu := cpuTime(t, pid) - cpu0
	if err != nil {
		t.Fatalf("wrk %v: %v\n%s", args, err, out)
	}
	tool := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var r result
	m := wrkRPS.FindSubmatch(out)
	p := wrkP99.FindSubmatch(out)
	if m == nil || p == nil {
		t.Fatalf("wrk output not understood:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	v, _ := strconv.ParseFloat(string(p[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(p[2])]
	r.p99 = time.Duration(v * float64(unit))
	if n, total := wrkNon2xx.FindSubmatch(out), wrkTotal.FindSubmatch(out); n != nil && total != nil {
		// wrk's rate counts every answer; the rate here is of the successful ones (a
		// refused request is cheap, and would raise it).
		r.errors, _ = strconv.Atoi(string(n[1]))
		all, _ := strconv.Atoi(string(total[1]))
		r.rps *= float64(max(all-r.errors, 0)) / float64(max(all, 1))
	}
	if n := wrkErrors.FindSubmatch(out); n != nil {
		for _, x := range n[1:] {
			k, _ := strconv.Atoi(string(x))
			r.errors += k
		}
	}
	if ok := r.rps * dur.Seconds(); ok >= 1 {
		r.cpu = time.Duration(float64(cpu) / ok)
		r.tool = time.Duration(float64(tool) / ok)
	}
	return r
}

// goRun is what runGo measured: the latency of each successful request, the time taken and
// the failed requests.
type goRun struct {
	latencies []time.Duration
	elapsed   time.Duration
	errors    int
	cpu       time.Duration // the metered server's
}

func (g goRun) result(t *testing.T) result {
	if len(g.latencies) == 0 {
		t.Fatalf("no successful request (%d errors)", g.errors)
	}
	slices.Sort(g.latencies)
	return result{rps: float64(len(g.latencies)) / g.elapsed.Seconds(), p99: g.latencies[len(g.latencies)*99/100], errors: g.errors,
		cpu: g.cpu / time.Duration(len(g.latencies))}
}

// alternate runs baseline and route in turn, dur/n at a time, n times each, and returns the
// totals of each. This machine is shared and its speed changes from one second to the next:
// a baseline and a route measured in alternation share its slower and faster seconds, where
// a run of each, one after the other, may land one in each.
func alternate(t *testing.T, dur time.Duration, n int, baseline, route func(time.Duration) goRun) (result, result) {
	var b, r goRun
	for range n {
		for _, run := range []struct {
			load  func(time.Duration) goRun
			total *goRun
		}{{baseline, &b}, {route, &r}} {
			g := run.load(dur / time.Duration(n))
			run.total.latencies = append(run.total.latencies, g.latencies...)
			run.total.elapsed += g.elapsed
			run.total.errors += g.errors
			run.total.cpu += g.cpu
		}
	}
	return b.result(t), r.result(t)
}

// runGo runs c connections, each calling do in a loop for dur, and measures them and process
// pid's CPU time (not when 0).
func runGo(t *testing.T, c int, dur time.Duration, pid int, do func(cl *http.Client, i int) error) goRun {
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, Timeout: 10 * time.Second}
	defer cl.CloseIdleConnections() // alternate's next round opens its own
	var mu sync.Mutex
	var all []time.Duration
	var errs int
	var wg sync.WaitGroup
	cpu0 := cpuTime(t, pid)
	start := time.Now()
	end := start.Add(dur)
	for i := range c {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := do(cl, i); err != nil {
					bad++
					if bad > 100 {
						break
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all, errs = append(all, mine...), errs+bad
			mu.Unlock()
		})
	}
	wg.Wait()
	return goRun{latencies: all, elapsed: time.Since(start), errors: errs, cpu: cpuTime(t, pid) - cpu0}
}

func getOK(cl *http.Client, u string) error {
	resp, err := cl.Get(u)
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

// refreshScript is wrk's refresh grant: each of wrk's two threads takes half of tokens (a
// family per connection, and one spare: wrk calls request() once on its first thread to check
// the script, and that token is never sent) and keeps them in a pool; a request takes a
// token from it, and the response's refresh_token goes back. A token whose answer was not 200
// is not replaced: a request that then finds the pool empty sends one that is refused, and
// wrk counts it as an error.
func refreshScript(basic string, tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, tok := range tokens {
		quoted[i] = strconv.Quote(tok)
	}
	return fmt.Sprintf(`wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %s"
local tokens = {%s}
local per = %d
local threads = 0
function setup(thread)
  thread:set("first", threads * per + 1)
  threads = threads + 1
end
local pool = {}
function init(args)
  for i = first, first + per - 1 do pool[#pool + 1] = tokens[i] end
end
function request()
  local tok = table.remove(pool) or "none"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. tok)
end
function response(status, headers, body)
  local tok = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and tok then pool[#pool + 1] = tok end
end
`, basic, strings.Join(quoted, ", "), len(tokens)/2)
}

func refreshGrant(cl *http.Client, base, id, secret, refresh string) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeBody(resp, &out); err != nil || resp.StatusCode != 200 || out.RefreshToken == "" {
		return "", fmt.Errorf("refresh: %d %v", resp.StatusCode, err)
	}
	return out.RefreshToken, nil
}
