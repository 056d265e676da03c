package server

// Tests of issue 16 ("hold up under abuse"): bounded inputs, rate limits in the domain, no
// secrets in logs, customers' views, bad bytes, metrics and proxies. Each runs on SQLite and,
// when LOGINSIGN_TEST_DATABASE_URL is set, PostgreSQL.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// send posts body to path with its Content-Length (chunked when chunked is true, so the
// server cannot know the size in advance) and returns the status and the body.
func (e *apiEnv) send(method, path, contentType string, body io.Reader, size int64, chunked bool, headers map[string]string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = size
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(body) // hides the length from net/http
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(out))
}

// endless is a reader of n bytes of filler inside a JSON string: a body that is well-formed
// at the start and too long.
func endless(n int64) io.Reader {
	return io.MultiReader(strings.NewReader(`{"query":"`), io.LimitReader(repeatReader('a'), n), strings.NewReader(`"}`))
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestOversizedBodiesAre413EverywhereInTheRouteShape sends a body over its route's limit to
// every route that reads one, with and without Content-Length, and expects 413 in the route's
// error shape.
func TestOversizedBodiesAre413EverywhereInTheRouteShape(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			dev := map[string]string{"Cookie": "ls_session=" + e.cookie(e.dev).Value}
			app := "/api/developer/applications/" + e.app.ID
			routes := []struct {
				method, path, contentType string
				size                      int64
				headers                   map[string]string
				shape                     string // the error body's first key and value
			}{
				{"POST", "/graphql", "application/json", 1<<20 + 1, nil, `{"errors":[{"message":"the request body is larger than 1048576 bytes","extensions":{"code":"REQUEST_TOO_LARGE"}}]}`},
				{"POST", "/graphql", "application/json", 200 << 20, dev, `{"errors":[{"message":"the request body is larger than 1048576 bytes","extensions":{"code":"REQUEST_TOO_LARGE"}}]}`},
				{"POST", "/oauth/token", "application/x-www-form-urlencoded", 64<<10 + 1, nil, `"error":"invalid_request"`},
				{"POST", "/oauth/revoke", "application/x-www-form-urlencoded", 64<<10 + 1, nil, `"error":"invalid_request"`},
				{"POST", "/oauth/introspect", "application/x-www-form-urlencoded", 64<<10 + 1, nil, `"error":"invalid_request"`},
				{"POST", "/api/user/licenses/redeem", "application/json", 1<<20 + 1, dev, `"error":"payload_too_large"`},
				{"POST", "/api/developer/applications", "application/json", 1<<20 + 1, dev, `"error":"payload_too_large"`},
				{"PATCH", app, "application/json", 1<<20 + 1, dev, `"error":"payload_too_large"`},
				{"POST", app + "/licenses/variants", "application/json", 1<<20 + 1, dev, `"error":"payload_too_large"`},
				{"POST", app + "/licenses/codes/upload", "text/csv", 2<<20 + 1, dev, `"error":"payload_too_large"`},
				{"POST", app + "/import-existing-users/csv", "text/csv", 8<<20 + 1, dev, `"error":"payload_too_large"`},
				{"POST", "/login", "application/x-www-form-urlencoded", 16<<10 + 1, nil, `larger than 16384 bytes`},
				{"POST", "/login/magic", "application/x-www-form-urlencoded", 16<<10 + 1, nil, `larger than 16384 bytes`},
				{"POST", "/login", "application/x-www-form-urlencoded", 2 << 20, nil, `larger than 1`}, // 1048576 at the edge, 16384 in the page
				{"PATCH", "/api/applications/" + e.app.ID + "/users/AB1234/status", "application/json", 1<<20 + 1,
					map[string]string{"Authorization": basic(e.app.ID, e.secret)}, `"error":"payload_too_large"`},
			}
			for _, rt := range routes {
				for _, chunked := range []bool{false, true} {
					if chunked && rt.size > 16<<20 {
						continue // the announced 200 MB case; chunked ones stop at the limit anyway
					}
					t.Run(fmt.Sprintf("%s %s chunked=%v", rt.method, rt.path, chunked), func(t *testing.T) {
						code, _, body := e.send(rt.method, rt.path, rt.contentType, endless(rt.size), rt.size+len64(`{"query":""}`), chunked, rt.headers)
						if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, rt.shape) {
							t.Fatalf("= %d %.300s, want 413 with %s", code, body, rt.shape)
						}
					})
				}
			}
			// The limit is a setting.
			small := newAPIEnvWith(t, freshURL(t, name), licenses.RedeemLimits{}, map[string]string{"LOGINSIGN_GRAPHQL_MAX_BODY": "4096"}, io.Discard)
			if code, _, body := small.send("POST", "/graphql", "application/json", endless(5000), 5000+len64(`{"query":""}`), false, nil); code != 413 ||
				!strings.Contains(body, "larger than 4096 bytes") {
				t.Fatalf("LOGINSIGN_GRAPHQL_MAX_BODY=4096, 5 kB body = %d %s", code, body)
			}
			if code, _, body := small.call("POST", "/graphql", map[string]any{"query": "{ viewer { id } }"}, nil, nil); code != 200 {
				t.Fatalf("a small query under LOGINSIGN_GRAPHQL_MAX_BODY=4096 = %d %s", code, body)
			}
		})
	}
}

func len64(s string) int64 { return int64(len(s)) }

// freshURL is another empty database on the backend of storetest.URLs' name.
func freshURL(t *testing.T, name string) string {
	if name == "postgres" {
		return storetest.FreshPostgres(t, os.Getenv(storetest.EnvPostgres))
	}
	return "sqlite://" + filepath.Join(t.TempDir(), "second.db")
}

// analyticsAliases is an operation asking for n aliases of two analytics fields.
func analyticsAliases(appID string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{ application(id: %q) { analytics {`, appID)
	for i := range n {
		fmt.Fprintf(&b, ` s%d: signupsPerDay(from: "2026-01-01T00:00:00Z", to: "2026-04-01T00:00:00Z") { day count } r%d: usersPerRegion { region count }`, i, i)
	}
	b.WriteString(" } } }")
	return b.String()
}

// TestGraphQLAliasAndDocumentBombsAreRefusedBeforeTheWork: aliases of costly fields count
// toward complexity, and a huge document stops at the parser's token limit.
func TestGraphQLAliasAndDocumentBombsAreRefusedBeforeTheWork(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			dev := e.cookie(e.dev)
			for _, tt := range []struct {
				name    string
				query   string
				code    string
				message string
			}{
				{"3,000 aliases of two analytics fields", analyticsAliases(e.app.ID, 3000), "GRAPHQL_PARSE_FAILED", "token limit"},
				{"11 aliases of two analytics fields", analyticsAliases(e.app.ID, 11), "COMPLEXITY_LIMIT_EXCEEDED", "exceeds the limit of 20000"},
				{"a 900 kB document of scalar fields", "{" + strings.Repeat(" viewer { id }", 900<<10/14) + " }", "GRAPHQL_PARSE_FAILED", "token limit"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					code, _, body := e.call("POST", "/graphql", map[string]any{"query": tt.query}, nil, dev)
					if strings.Contains(body, `"data":{`) || !strings.Contains(body, `"code":"`+tt.code+`"`) || !strings.Contains(body, tt.message) {
						t.Fatalf("= %d %.400s, want an error %s saying %q and no data", code, body, tt.code, tt.message)
					}
				})
			}
			// What a dashboard asks for still runs.
			code, _, body := e.call("POST", "/graphql", map[string]any{"query": analyticsAliases(e.app.ID, 2)}, nil, dev)
			if code != 200 || !strings.Contains(body, `"s1":[`) {
				t.Fatalf("two aliases = %d %.300s", code, body)
			}
		})
	}
}

// TestGraphQLRedeemBruteForceMeets429: redeemLicenseCode over GraphQL counts against the
// same limits as the REST route, because they live in the domain function.
func TestGraphQLRedeemBruteForceMeets429(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			c := e.cookie(ann)
			var limited string
			for i := range 25 {
				body := e.gql(c, fmt.Sprintf(`mutation { redeemLicenseCode(applicationId: %q, code: "GUES-%04d") { code } }`, e.app.ID, i))
				if strings.Contains(body, `"code":"rate_limited"`) {
					limited = body
					if i != 20 {
						t.Fatalf("attempt %d was the first one limited; the default is 20 per minute per person", i+1)
					}
					break
				}
				if !strings.Contains(body, `"code":"code_not_found"`) {
					t.Fatalf("attempt %d = %s", i+1, body)
				}
			}
			if limited == "" {
				t.Fatal("25 guesses over GraphQL were never rate limited")
			}
			// REST shares the counter: the person is limited there too.
			code, hdr, body := e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": "GUES-9999", "client_id": e.app.ID}, nil, c)
			if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, `"error":"rate_limited"`) {
				t.Fatalf("REST after the GraphQL guesses = %d %s", code, body)
			}
		})
	}
}

// TestFailedClientAuthDoesNotLockOutTheRealBackend is the finding of issue 16 over HTTP: 610
// wrong secrets for a public client_id from 10 addresses (behind a trusted proxy) no longer
// keep the real backend, calling from its own address, at 429 — on the app-backend API (Basic)
// and on the token endpoint.
func TestFailedClientAuthDoesNotLockOutTheRealBackend(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnvWith(t, dbURL, licenses.RedeemLimits{}, map[string]string{"LOGINSIGN_TRUSTED_PROXIES": "127.0.0.1/32, ::1"}, io.Discard)
			users := "/api/applications/" + e.app.ID + "/users"
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			for a := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 61 {
						h := map[string]string{"Authorization": basic(e.app.ID, "lss_wrong"), "X-Forwarded-For": fmt.Sprintf("198.51.100.%d", a+1)}
						code, _, _ := e.call("GET", users, nil, h, nil)
						form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"lsrt_x"}, "client_id": {e.app.ID}, "client_secret": {"lss_wrong"}}
						tcode, _, _ := e.send("POST", "/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), int64(len(form.Encode())), false,
							map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", a+1)})
						mu.Lock()
						statuses[code]++
						statuses[tcode]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if statuses[429] == 0 {
				t.Fatalf("1,220 failed attempts were never rate limited: %v", statuses)
			}
			backend := map[string]string{"Authorization": basic(e.app.ID, e.secret), "X-Forwarded-For": "203.0.113.50"}
			for i := range 20 {
				if code, _, body := e.call("GET", users, nil, backend, nil); code != 200 {
					t.Fatalf("the real backend's call %d = %d %s", i+1, code, body)
				}
			}
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"lsrt_unknown"}}
			code, _, body := e.send("POST", "/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), int64(len(form.Encode())), false,
				map[string]string{"Authorization": basic(e.app.ID, e.secret), "X-Forwarded-For": "203.0.113.50"})
			if code != 400 || !strings.Contains(body, `"error":"invalid_grant"`) {
				t.Fatalf("the real backend at the token endpoint = %d %s, want its grant judged (invalid_grant)", code, body)
			}
		})
	}
}

// TestNoMagicLinkReachesTheLog: outside dev mode, serving without SMTP is refused; in dev
// mode the outbox keeps the mail and the log only names the file.
func TestNoMagicLinkReachesTheLog(t *testing.T) {
	_, err := loadConfig(nil, env(map[string]string{"LOGINSIGN_BASE_URL": "https://login.example.com"}))
	if err == nil || !strings.Contains(err.Error(), "LOGINSIGN_SMTP_URL is required outside dev mode") {
		t.Fatalf("production without SMTP: err = %v", err)
	}
	if _, err := loadConfig(nil, env(map[string]string{"LOGINSIGN_BASE_URL": "https://login.example.com", "LOGINSIGN_SMTP_URL": "smtp://mail.example.com:587"})); err != nil {
		t.Fatalf("production with SMTP: %v", err)
	}
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			e := newAPIEnvWith(t, dbURL, licenses.RedeemLimits{}, nil, &logs)
			for _, addr := range []string{"ann@example.com", "dev@example.com"} {
				form := url.Values{"email": {addr}}.Encode()
				if code, _, body := e.send("POST", "/login", "application/x-www-form-urlencoded", strings.NewReader(form), int64(len(form)), false, nil); code != 200 && code != 303 {
					t.Fatalf("POST /login = %d %s", code, body)
				}
			}
			log := logs.String()
			if !strings.Contains(log, "mail written to outbox") {
				t.Fatalf("no mail was sent; log:\n%s", log)
			}
			if strings.Contains(log, "lsml_") || strings.Contains(log, "/login/magic") {
				t.Fatalf("a magic link reached the log:\n%s", log)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestCustomersSeeOnlyTheirOwnCodeCounts: myLicenses → variant → codeCounts counts the
// person's own codes, not the application's stock.
func TestCustomersSeeOnlyTheirOwnCodeCounts(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			dev := e.cookie(e.dev)
			body := e.gql(dev, fmt.Sprintf(`mutation { createLicenseVariant(applicationId: %q, input: {name: "Pro", duration: MONTH}) { id } }`, e.app.ID))
			v := decode[struct {
				Data struct{ CreateLicenseVariant struct{ ID string } }
			}](t, body).Data.CreateLicenseVariant.ID
			body = e.gql(dev, fmt.Sprintf(`mutation { generateLicenseCodes(applicationId: %q, input: {variantId: %q, count: 50}) { codes } }`, e.app.ID, v))
			codes := decode[struct {
				Data struct{ GenerateLicenseCodes struct{ Codes []string } }
			}](t, body).Data.GenerateLicenseCodes.Codes
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			annC := e.cookie(ann)
			e.gql(annC, fmt.Sprintf(`mutation { redeemLicenseCode(applicationId: %q, code: %q) { code } }`, e.app.ID, codes[0]))
			body = e.gql(annC, fmt.Sprintf(`{ myLicenses(applicationId: %q) { variant { name codeCounts { unused active expired } } } }`, e.app.ID))
			if want := `{"data":{"myLicenses":[{"variant":{"name":"Pro","codeCounts":{"unused":0,"active":1,"expired":0}}}]}}`; body != want {
				t.Fatalf("the customer's view = %s\nwant %s", body, want)
			}
			body = e.gql(dev, fmt.Sprintf(`{ application(id: %q) { licenseVariants { codeCounts { unused active expired } } } }`, e.app.ID))
			if want := `{"data":{"application":{"licenseVariants":[{"codeCounts":{"unused":49,"active":1,"expired":0}}]}}}`; body != want {
				t.Fatalf("the developer's view = %s", body)
			}
		})
	}
}

// TestBadBytesAre400: text a database cannot hold (NUL, invalid UTF-8) is refused at the
// edge with 400 in the route's shape, on every backend (PostgreSQL answered 500 SQLSTATE
// 22021 before).
func TestBadBytesAre400(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			dev := e.cookie(e.dev)
			devH := map[string]string{"Cookie": "ls_session=" + dev.Value}
			app := "/api/developer/applications/" + e.app.ID
			body := e.gql(dev, fmt.Sprintf(`mutation { createLicenseVariant(applicationId: %q, input: {name: "Pro"}) { id } }`, e.app.ID))
			v := decode[struct {
				Data struct{ CreateLicenseVariant struct{ ID string } }
			}](t, body).Data.CreateLicenseVariant.ID
			for _, tt := range []struct {
				name, method, path, contentType, body string
				want                                  string
			}{
				{"NUL in a search", "GET", app + "/licenses/codes?q=%00", "", "", `"error":"invalid_request"`},
				{"invalid UTF-8 in a search", "GET", app + "/users?q=%ff%fe", "", "", `"error":"invalid_request"`},
				{"NUL in a path", "GET", app + "/licenses/variants/x%00y", "", "", `"error":"invalid_request"`},
				// A CSV that is not UTF-8 is read as Windows-1252 (csvtable.Decode, checks23), unless a
				// UTF-8 byte order mark says otherwise.
				{"invalid UTF-8 after a UTF-8 mark in a codes CSV", "POST", app + "/licenses/codes/upload?variantId=" + v, "text/csv", "\xef\xbb\xbfcode\nAB\xffCD-1234\n", `"message":"the CSV starts with a UTF-8 byte order mark but is not UTF-8"`},
				{"NUL in a codes CSV", "POST", app + "/licenses/codes/upload?variantId=" + v, "text/csv", "code\nABCD\x00-1234\n", `"message":"the CSV contains a NUL character`},
				{"invalid UTF-8 after a UTF-8 mark in an import CSV", "POST", app + "/import-existing-users/csv", "text/csv", "\xef\xbb\xbfemail,name\nann@example.com,An\xffn\n", `"message":"the CSV starts with a UTF-8 byte order mark but is not UTF-8"`},
				{"NUL in a JSON body", "POST", app + "/licenses/variants", "application/json", `{"name":"Pro\u0000"}`, `"error":"invalid_request"`},
				{"NUL in a GraphQL variable", "POST", "/graphql", "application/json", `{"query":"query($q: String) { application(id: \"` + e.app.ID + `\") { licenseCodes(q: $q) { totalCount } } }","variables":{"q":"\u0000"}}`, `"code":"BAD_REQUEST"`},
				{"NUL in a GraphQL literal", "POST", "/graphql", "application/json", `{"query":"{ application(id: \"` + e.app.ID + `\") { licenseCodes(q: \"\\u0000\") { totalCount } } }"}`, `"code":"BAD_REQUEST"`},
				{"invalid UTF-8 in a GraphQL body", "POST", "/graphql", "application/json", "{\"query\":\"{ viewer { id } } #\xff\"}", `"code":"BAD_REQUEST"`},
			} {
				t.Run(tt.name, func(t *testing.T) {
					code, _, got := e.send(tt.method, tt.path, tt.contentType, strings.NewReader(tt.body), int64(len(tt.body)), false, devH)
					if code != 400 || !strings.Contains(got, tt.want) {
						t.Fatalf("= %d %s, want 400 with %s", code, got, tt.want)
					}
				})
			}
		})
	}
}

// TestMetricsAreNotPublic: /metrics is not on the public listener unless a token guards it;
// it is served on its own (loopback) listener.
func TestMetricsAreNotPublic(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	if code, _, body := e.call("GET", "/metrics", nil, nil, nil); code != 404 || strings.Contains(body, "go_goroutines") {
		t.Fatalf("public /metrics = %d %.100s", code, body)
	}
	const token = "metrics-token-0123456789"
	g := newAPIEnvWith(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{}, map[string]string{"LOGINSIGN_METRICS_TOKEN": token}, io.Discard)
	if code, _, _ := g.call("GET", "/metrics", nil, map[string]string{"Authorization": "Bearer wrong-token-0123456789"}, nil); code != 404 {
		t.Fatalf("/metrics with a wrong token = %d", code)
	}
	if code, _, body := g.call("GET", "/metrics", nil, map[string]string{"Authorization": "Bearer " + token}, nil); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics with the token = %d %.100s", code, body)
	}

	c, err := loadConfig(nil, env(nil))
	if err != nil || c.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("default LOGINSIGN_METRICS_ADDR = %q, %v", c.MetricsAddr, err)
	}
	if c, err := loadConfig(nil, env(map[string]string{"LOGINSIGN_METRICS_ADDR": "off"})); err != nil || c.MetricsAddr != "" {
		t.Fatalf("LOGINSIGN_METRICS_ADDR=off: %q, %v", c.MetricsAddr, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e.s.cfg.MetricsAddr = addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.s.serveMetrics(ctx)
	var resp *http.Response
	for range 50 {
		if resp, err = http.Get("http://" + addr + "/metrics"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte("loginsign_http_request_duration_seconds")) {
		t.Fatalf("metrics listener = %d %.200s", resp.StatusCode, b)
	}
}

// TestTrustedProxies: only a trusted peer's X-Forwarded-For / Forwarded is believed, for rate
// limits and sessions; a spoofed header from anyone else changes nothing.
func TestTrustedProxies(t *testing.T) {
	if _, err := loadConfig(nil, env(map[string]string{"LOGINSIGN_TRUSTED_PROXIES": "10.0.0.0/8, nonsense"})); err == nil ||
		!strings.Contains(err.Error(), "LOGINSIGN_TRUSTED_PROXIES") {
		t.Fatalf("a bad proxy list: %v", err)
	}
	healthcheck := func(e *apiEnv, xff string) int {
		code, _, _ := e.call("GET", "/api/oauth/healthcheck?client_id="+e.app.ID+"&redirect_uri="+url.QueryEscape("https://app.example.com/cb"), nil,
			map[string]string{"X-Forwarded-For": xff}, nil)
		return code
	}
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			// Untrusted peer: a new spoofed address per request does not escape the per-address limit.
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			got := 0
			for i := range 31 {
				got = healthcheck(e, fmt.Sprintf("192.0.2.%d", i+1))
			}
			if got != 429 {
				t.Fatalf("31st healthcheck with spoofed X-Forwarded-For from an untrusted peer = %d, want 429", got)
			}
			// Trusted peer: each forwarded client has its own bucket, and the session records it.
			p := newAPIEnvWith(t, freshURL(t, name), licenses.RedeemLimits{}, map[string]string{"LOGINSIGN_TRUSTED_PROXIES": "127.0.0.0/8,::1"}, io.Discard)
			for i := range 31 {
				if code := healthcheck(p, fmt.Sprintf("192.0.2.%d", i+1)); code != 200 {
					t.Fatalf("client %d behind the trusted proxy = %d", i+1, code)
				}
			}
			for range 30 {
				healthcheck(p, "192.0.2.200")
			}
			if code := healthcheck(p, "192.0.2.200"); code != 429 {
				t.Fatalf("31st healthcheck of one forwarded client = %d, want 429", code)
			}
			// A client-supplied entry before the proxy's own is not believed past the client.
			if code := healthcheck(p, "192.0.2.200, 198.51.100.9"); code != 200 {
				t.Fatalf("spoofed first hop = %d: the proxy-appended address must be the one counted", code)
			}
		})
	}
}

// TestAllowedOriginsAreExact: allowedOrigins take only scheme://host[:port].
func TestAllowedOriginsAreExact(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	path := "/api/developer/applications/" + e.app.ID
	for _, bad := range []string{"https://*", "https://*.example.com", "https://a.test;", "https://a.test; script-src *", "https://a.test/path",
		"https://a.test?x", "https://user@a.test", "https://a.test:0", "https://a.test:99999", "https://a.test:", "ftp://a.test", "https://a_b.test", "https://a.test#x"} {
		code, _, body := e.call("PATCH", path, map[string]any{"allowedOrigins": []string{bad}}, nil, e.cookie(e.dev))
		if code != 400 || !strings.Contains(body, "must be an origin") {
			t.Errorf("%q = %d %s", bad, code, body)
		}
	}
	code, _, body := e.call("PATCH", path, map[string]any{"allowedOrigins": []string{"https://app.example.com", "http://localhost:3000", "https://[2001:db8::1]:8443", "https://App.Example.org/"}}, nil, e.cookie(e.dev))
	var got struct{ AllowedOrigins []string }
	json.Unmarshal([]byte(body), &got)
	if code != 200 || strings.Join(got.AllowedOrigins, " ") != "https://app.example.com http://localhost:3000 https://[2001:db8::1]:8443 https://app.example.org" {
		t.Fatalf("good origins = %d %s", code, body)
	}
	if _, err := loadConfig(nil, env(map[string]string{"LOGINSIGN_CORS_ORIGINS": "https://*"})); err == nil {
		t.Fatal("LOGINSIGN_CORS_ORIGINS accepted https://*")
	}
}
