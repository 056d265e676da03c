package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/store/storetest"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad base url", map[string]string{"LOGINSIGN_BASE_URL": "localhost:8080"}, "LOGINSIGN_BASE_URL"},
		{"base url with path", map[string]string{"LOGINSIGN_BASE_URL": "https://x.example/app"}, "LOGINSIGN_BASE_URL"},
		{"bad addr", map[string]string{"LOGINSIGN_ADDR": "8080"}, "LOGINSIGN_ADDR"},
		{"bad dev", map[string]string{"LOGINSIGN_DEV": "maybe"}, "LOGINSIGN_DEV"},
		{"short secret", map[string]string{"LOGINSIGN_SECRET": "short"}, "LOGINSIGN_SECRET"},
		{"bad cors origin", map[string]string{"LOGINSIGN_CORS_ORIGINS": "not a url"}, "LOGINSIGN_CORS_ORIGINS"},
		{"relay rcpt limit not a number", map[string]string{"LOGINSIGN_RELAY_RCPT_LIMIT": "many"}, "LOGINSIGN_RELAY_RCPT_LIMIT"},
		{"relay rcpt limit zero", map[string]string{"LOGINSIGN_RELAY_RCPT_LIMIT": "0"}, "LOGINSIGN_RELAY_RCPT_LIMIT"},
		{"relay reply limit not a number", map[string]string{"LOGINSIGN_RELAY_REPLY_LIMIT": "many"}, "LOGINSIGN_RELAY_REPLY_LIMIT"},
		{"license codes total not a number", map[string]string{"LOGINSIGN_MAX_LICENSE_CODES_PER_DEVELOPER": "lots"}, "LOGINSIGN_MAX_LICENSE_CODES_PER_DEVELOPER"},
		{"pending links total zero", map[string]string{"LOGINSIGN_MAX_PENDING_LINKS_PER_DEVELOPER": "0"}, "LOGINSIGN_MAX_PENDING_LINKS_PER_DEVELOPER"},
		{"import rows total negative", map[string]string{"LOGINSIGN_MAX_IMPORT_ROWS_PER_DEVELOPER": "-5"}, "LOGINSIGN_MAX_IMPORT_ROWS_PER_DEVELOPER"},
		{"client tokens not whole", map[string]string{"LOGINSIGN_MAX_CLIENT_TOKENS_PER_DEVELOPER": "1.5"}, "LOGINSIGN_MAX_CLIENT_TOKENS_PER_DEVELOPER"},
		{"relay contact limit empty", map[string]string{"LOGINSIGN_RELAY_CONTACT_LIMIT": " "}, "LOGINSIGN_RELAY_CONTACT_LIMIT"},
		{"bad rotation commit", map[string]string{"LOGINSIGN_ROTATION_COMMIT": "off"}, "LOGINSIGN_ROTATION_COMMIT"},
		{"relay certificate without key", map[string]string{"LOGINSIGN_RELAY_TLS_CERT": "cert.pem"}, "LOGINSIGN_RELAY_TLS_KEY"},
		{"relay certificate missing", map[string]string{"LOGINSIGN_RELAY_TLS_CERT": "/nonexistent/cert.pem", "LOGINSIGN_RELAY_TLS_KEY": "/nonexistent/key.pem"}, "LOGINSIGN_RELAY_TLS_CERT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(nil, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.BaseURL != "http://localhost:8080" || c.DatabaseURL != "sqlite://data/loginsign.db" ||
		c.MailFrom != "no-reply@localhost" || c.RelayDomain != "relay.localhost" || c.RelayRcptLimit != 120 || c.RelayReplyLimit != 100 || !c.Dev ||
		c.Runtime.SyncRotations {
		t.Fatalf("defaults = %+v", c)
	}
	if want := (Totals{LicenseCodes: 1_000_000, PendingLinks: 1_000_000, ImportRows: 100_000, ImportRuns: 1000, ClientTokens: 10_000, RelayContacts: 1000, SignInMailsPerSource: 100}); c.Totals != want {
		t.Fatalf("totals = %+v, want %+v", c.Totals, want)
	}
	if c, err := loadConfig([]string{"--rotation-commit", "sync"}, env(nil)); err != nil || !c.Runtime.SyncRotations {
		t.Fatalf("--rotation-commit sync: %v, or the rotations stay asynchronous", err)
	}
	c, err = loadConfig([]string{"--base-url", "https://login.example.com"}, env(map[string]string{"LOGINSIGN_SMTP_URL": "smtp://mail.example.com:587"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dev || c.RelayDomain != "relay.login.example.com" {
		t.Fatalf("https base: dev=%v relay=%q", c.Dev, c.RelayDomain)
	}
}

// TestCommands runs the documented CLI on each backend and checks the documented JSON.
func TestCommands(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := env(map[string]string{"DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(), "REDIS_URL": kvtest.URL(t)})
			ctx := context.Background()

			var out bytes.Buffer
			if err := Run(ctx, []string{"users", "create", "--email", "Ann@Example.com", "--name", "Ann", "--json"}, e, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var u map[string]string
			if err := json.Unmarshal(out.Bytes(), &u); err != nil {
				t.Fatalf("users create --json printed %q: %v", out.String(), err)
			}
			if len(u) != 3 || u["email"] != "ann@example.com" || u["name"] != "Ann" || len(u["globalId"]) != 6 {
				t.Fatalf("users create --json = %v", u)
			}
			if err := Run(ctx, []string{"users", "create", "--email", "ann@example.com"}, e, io.Discard, io.Discard); err == nil {
				t.Fatal("creating a second account with the same address succeeded")
			}

			out.Reset()
			args := []string{"apps", "create", "--owner", "dev@example.com", "--name", "Demo",
				"--redirect-uri", "http://localhost:3000/cb", "--redirect-uri", "https://app.example.com/cb",
				"--webhook-url", "https://app.example.com/hook", "--json"}
			if err := Run(ctx, args, e, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var app struct {
				ID, ClientID, ClientSecret, Name, WebhookSecret string
				RedirectURIs                                    []string `json:"redirectUris"`
			}
			var keys map[string]any
			json.Unmarshal(out.Bytes(), &keys)
			if err := json.Unmarshal(out.Bytes(), &app); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 6 || app.ID == "" || app.ClientID != app.ID || !strings.HasPrefix(app.ClientSecret, "lss_") ||
				app.Name != "Demo" || len(app.RedirectURIs) != 2 || !strings.HasPrefix(app.WebhookSecret, "whsec_") {
				t.Fatalf("apps create --json = %s", out.String())
			}
			if err := Run(ctx, []string{"apps", "create", "--owner", "dev@example.com", "--name", "Bad", "--redirect-uri", "http://evil.example.com/cb"}, e, io.Discard, io.Discard); err == nil {
				t.Fatal("an http redirect URI on a public host was accepted")
			}
		})
	}
}

// TestServeReadyAndGraceful starts the real server, waits for /readyz, and checks that a
// shutdown lets an in-flight request finish, and that what the domain packages log through
// slog's default logger reaches the server's log as its own lines, at its level.
func TestServeReadyAndGraceful(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String()
	mln.Close()
	e := env(map[string]string{
		"LOGINSIGN_ADDR": addr, "LOGINSIGN_METRICS_ADDR": metricsAddr, "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"),
		"LOGINSIGN_DATA_DIR": t.TempDir(), "REDIS_URL": kvtest.URL(t), "LOGINSIGN_LOG_LEVEL": "warn",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logged syncBuffer
	go func() { done <- Run(ctx, []string{"serve"}, e, io.Discard, &logged) }()

	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"status":"ready"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// /metrics is on its own listener only.
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 404, "/playground": 200, "/no-such-page": 404, "http://" + metricsAddr + "/metrics": 200} {
		if !strings.HasPrefix(path, "http") {
			path = base + path
		}
		resp, err := http.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if resp.Header.Get("X-Request-Id") == "" && !strings.Contains(path, metricsAddr) {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
	}
	slog.Info("below the level: not logged")
	slog.Warn("logged by a domain package")
	var line map[string]any
	for l := range strings.Lines(logged.String()) {
		if strings.Contains(l, "domain package") {
			json.Unmarshal([]byte(l), &line)
		}
		if strings.Contains(l, "below the level") {
			t.Errorf("an Info line at level warn: %s", l)
		}
	}
	if line["msg"] != "logged by a domain package" || line["level"] != "WARN" {
		t.Errorf("slog.Warn through the default logger: %v in the server's log:\n%s", line, logged.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestReadyzReportsAnUnreachableStore: /readyz answers 503 with the failing check named.
func TestReadyzReportsAnUnreachableStore(t *testing.T) {
	cfg, err := loadConfig(nil, env(map[string]string{
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"), "LOGINSIGN_DATA_DIR": t.TempDir(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.routes()
	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var body map[string]any
		json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("ready: %d", code)
	}
	s.kv.UniversalClient.Close()
	code, body := get()
	checks, _ := body["checks"].(map[string]any)
	if code != http.StatusServiceUnavailable || body["status"] != "unavailable" || checks["redis"] == "ok" || checks["database"] != "ok" {
		t.Fatalf("redis down: %d %v", code, body)
	}
}

// TestCORSOnlyForListedOrigins: credentialed CORS answers a listed origin and nobody else.
func TestCORSOnlyForListedOrigins(t *testing.T) {
	cfg, err := loadConfig(nil, env(map[string]string{
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"), "LOGINSIGN_DATA_DIR": t.TempDir(),
		"LOGINSIGN_CORS_ORIGINS": "https://portal.example.com",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.routes()
	for origin, allowed := range map[string]bool{"https://portal.example.com": true, "https://evil.example.com": false, "null": false} {
		req := httptest.NewRequest("OPTIONS", "/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("Access-Control-Allow-Origin")
		if allowed && (got != origin || rec.Header().Get("Access-Control-Allow-Credentials") != "true") {
			t.Errorf("listed origin %s: Allow-Origin %q, headers %v", origin, got, rec.Header())
		}
		if !allowed && got != "" {
			t.Errorf("unlisted origin %s was allowed (%q)", origin, got)
		}
		// The write itself: a listed origin's cross-site POST passes the cross-origin
		// protection (a separately hosted portal must be able to write), another's does not.
		req = httptest.NewRequest("POST", "/graphql", strings.NewReader(`{"query":"mutation { revokeOtherSessions(input: {}) { revokedSessions } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if refused := rec.Code == http.StatusForbidden; refused == allowed {
			t.Errorf("cross-site POST from %s: %d %s", origin, rec.Code, rec.Body)
		}
	}
}

// TestTotalsReachTheServices: the operator's totals (README, Limits) are what the domain
// services count against, from the environment and from flags.
func TestTotalsReachTheServices(t *testing.T) {
	smtp := mailtest.Start(t)
	cfg, err := loadConfig([]string{"--relay-contact-limit", "55"}, env(map[string]string{
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"), "LOGINSIGN_DATA_DIR": t.TempDir(),
		"REDIS_URL": kvtest.URL(t), "LOGINSIGN_SMTP_URL": smtp.URL(), "LOGINSIGN_SECRET": testSecretHex,
		"LOGINSIGN_MAX_LICENSE_CODES_PER_DEVELOPER": "11", "LOGINSIGN_MAX_PENDING_LINKS_PER_DEVELOPER": "22",
		"LOGINSIGN_MAX_IMPORT_ROWS_PER_DEVELOPER": "33", "LOGINSIGN_MAX_CLIENT_TOKENS_PER_DEVELOPER": "44",
		"LOGINSIGN_MAX_IMPORT_RUNS_PER_DEVELOPER": "66",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Totals.RelayContacts != 55 {
		t.Errorf("--relay-contact-limit 55 read as %d", cfg.Totals.RelayContacts)
	}
	s, err := newServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if got := []int{s.licenses.MaxCodes, s.portal.MaxPendingLinks, s.portal.MaxImportRows, s.oauth.Config.Limits.ClientCredentialsPerOwner.N,
		s.portal.MaxImportRuns}; !slices.Equal(got, []int{11, 22, 33, 44, 66}) {
		t.Errorf("codes, pending links, import rows, client tokens, import runs = %v, want [11 22 33 44 66]", got)
	}
}
