package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail/mailtest"
)

// hygieneServer starts the real routes (checked against the OpenAPI document) on SQLite with
// the environment vars over the test defaults, and returns the server's URL.
func hygieneServer(t *testing.T, vars map[string]string) string {
	t.Helper()
	smtp := mailtest.Start(t)
	m := map[string]string{
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"), "LOGINSIGN_DATA_DIR": t.TempDir(),
		"REDIS_URL": kvtest.URL(t), "LOGINSIGN_SMTP_URL": smtp.URL(), "LOGINSIGN_SECRET": testSecretHex,
		"LOGINSIGN_LOG_LEVEL": "error",
	}
	maps.Copy(m, vars)
	cfg, err := loadConfig(nil, env(m))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewServer(validated(t, s.routes()))
	t.Cleanup(hs.Close)
	return hs.URL
}

// hygieneDo sends method target with the headers and returns the answer and its body.
func hygieneDo(t *testing.T, method, target string, body io.Reader, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Outside dev mode with an https base URL every answer carries Strict-Transport-Security
// (pages, JSON, errors, GraphQL, not-found); in dev mode, or with an http base URL, none does.
func TestStrictTransportSecurity(t *testing.T) {
	t.Parallel()
	const hsts = "max-age=63072000; includeSubDomains"
	paths := []string{"/healthz", "/login", "/api/user", "/.well-known/openid-configuration", "/no-such-page",
		"/graphql?" + url.Values{"query": {"{ __typename }"}}.Encode(), "/static/app.css"}
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"https outside dev mode", map[string]string{"LOGINSIGN_BASE_URL": "https://login.example.test"}, hsts},
		{"https in dev mode", map[string]string{"LOGINSIGN_BASE_URL": "https://login.example.test", "LOGINSIGN_DEV": "true"}, ""},
		{"http outside dev mode", map[string]string{"LOGINSIGN_BASE_URL": "http://login.example.test", "LOGINSIGN_DEV": "false"}, ""},
		{"http on localhost (dev mode by default)", map[string]string{"LOGINSIGN_BASE_URL": "http://localhost:8080"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := hygieneServer(t, tt.vars)
			for _, p := range paths {
				resp, _ := hygieneDo(t, http.MethodGet, base+p, nil, nil)
				if got := resp.Header.Values("Strict-Transport-Security"); strings.Join(got, ", ") != tt.want {
					t.Errorf("GET %s (%d): Strict-Transport-Security %q, want %q", p, resp.StatusCode, got, tt.want)
				}
			}
		})
	}
}

// JSON answers that carry a person's data are never stored by a cache (Cache-Control:
// no-store): GraphQL over GET and POST, the Developer Portal and the person's REST routes,
// their error answers too. The public documents keep their deliberate caching.
func TestPersonalJSONIsNotStored(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	ctx := context.Background()
	dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.srv.identity.Sessions.Create(ctx, dev.ID, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cookie := map[string]string{"Cookie": "ls_session=" + raw}
	gqlJSON := map[string]string{"Cookie": cookie["Cookie"], "Content-Type": "application/json"}
	viewer := "/graphql?" + url.Values{"query": {"{ viewer { email } }"}}.Encode()
	for _, tt := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		contains                 string
	}{
		{"GraphQL GET with the session", "GET", viewer, "", cookie, 200, "dev@example.com"},
		{"GraphQL POST with the session", "POST", "/graphql", `{"query":"{ viewer { email } }"}`, gqlJSON, 200, "dev@example.com"},
		{"GraphQL request error", "POST", "/graphql", `{"query":"{ nope }"}`, gqlJSON, 200, "GRAPHQL_VALIDATION_FAILED"},
		{"GraphQL signed out", "GET", viewer, "", nil, 200, `"viewer"`},
		{"GraphQL body too large", "POST", "/graphql", `{"query":"` + strings.Repeat(" ", int(e.srv.cfg.GraphQLMaxBody)) + `{ viewer { email } }"}`, gqlJSON, 413, "REQUEST_TOO_LARGE"},
		{"GraphQL NUL", "POST", "/graphql", `{"query":"{ viewer { email(x: \"\\u0000\") } }"}`, gqlJSON, 400, "BAD_REQUEST"},
		{"developer applications", "GET", "/api/developer/applications", "", cookie, 200, e.app.ID},
		{"developer applications signed out", "GET", "/api/developer/applications", "", nil, 401, `"unauthorized"`},
		{"developer application", "GET", "/api/developer/applications/" + e.app.ID, "", cookie, 200, e.app.ID},
		{"invitations", "GET", "/api/developer/invitations", "", cookie, 200, "invitations"},
		{"userinfo without a token", "GET", "/api/user", "", nil, 401, "error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, got := hygieneDo(t, tt.method, e.base+tt.path, body, tt.header)
			if resp.StatusCode != tt.status || !strings.Contains(got, tt.contains) {
				t.Fatalf("%s %s: %d %s; want %d containing %s", tt.method, tt.path, resp.StatusCode, got, tt.status, tt.contains)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s %s: Cache-Control %q, want no-store", tt.method, tt.path, cc)
			}
		})
	}
	for path, want := range map[string]string{
		"/.well-known/openid-configuration":       "public, max-age=3600",
		"/.well-known/oauth-authorization-server": "public, max-age=3600",
		"/.well-known/jwks.json":                  "public, max-age=300",
		"/openapi.json":                           "public, max-age=3600",
	} {
		if resp, _ := hygieneDo(t, "GET", e.base+path, nil, cookie); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != want {
			t.Errorf("GET %s: %d Cache-Control %q, want %q", path, resp.StatusCode, resp.Header.Get("Cache-Control"), want)
		}
	}
}

// GET /api/user answers per RFC 6750 §3.1: a request without credentials (no Authorization
// header, or one of another scheme) gets a bare challenge, no error code; a malformed Bearer
// header is 400 invalid_request; a well-formed token that is unknown (or too long to be one of
// ours, or an app's client_credentials token) is 401 invalid_token; a good one is 200. The
// Bearer routes that also take the session cookie answer a malformed header the same way.
func TestAPIUserBearerChallenge(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	access := e.signedInTokens(e.browser(), defaultTestEmail, "")["access_token"].(string)
	const realm = `Bearer realm="loginsign"`
	subs := "/api/user/licenses/subscriptions?client_id="
	for _, tt := range []struct {
		name, path, auth string
		status           int
		code             string // the body's error; "" for a 200
		challenge        string // WWW-Authenticate exactly, or its prefix when it ends in ", "
	}{
		{"no Authorization header", "/api/user", "", 401, "invalid_token", realm},
		{"another scheme", "/api/user", "Basic YTpi", 401, "invalid_token", realm},
		{"a scheme that only starts like Bearer", "/api/user", "Bearerish lsat_x", 401, "invalid_token", realm},
		{"Bearer and nothing else", "/api/user", "Bearer", 400, "invalid_request", realm + `, error="invalid_request", `},
		{"two words after Bearer", "/api/user", "Bearer a b", 400, "invalid_request", realm + `, error="invalid_request", `},
		{"a token outside b64token", "/api/user", "Bearer lsat_x@y", 400, "invalid_request", realm + `, error="invalid_request", `},
		{"a comma-separated token", "/api/user", "Bearer a, b", 400, "invalid_request", realm + `, error="invalid_request", `},
		{"an unknown token", "/api/user", "Bearer lsat_unknown", 401, "invalid_token", realm + `, error="invalid_token", `},
		{"a token longer than any of ours", "/api/user", "Bearer " + strings.Repeat("a", 600), 401, "invalid_token", realm + `, error="invalid_token", `},
		{"a good token, lower-case scheme", "/api/user", "bearer " + access, 200, "", ""},
		{"licenses, malformed Bearer", subs + e.app.ID, "Bearer a b", 400, "invalid_request", realm + `, error="invalid_request", `},
		{"licenses, unknown token", subs + e.app.ID, "Bearer lsat_unknown", 401, "invalid_token", realm + `, error="invalid_token", `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.auth != "" {
				h["Authorization"] = tt.auth
			}
			resp, got := hygieneDo(t, http.MethodGet, e.base+tt.path, nil, h)
			var body map[string]any
			if err := json.Unmarshal([]byte(got), &body); err != nil {
				t.Fatalf("body not JSON: %d %q", resp.StatusCode, got)
			}
			if resp.StatusCode != tt.status || (tt.code != "" && body["error"] != tt.code) || (tt.code == "" && body["sub"] == nil) {
				t.Fatalf("%d %v; want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			wa := resp.Header.Values("WWW-Authenticate")
			switch {
			case tt.challenge == "":
				if len(wa) != 0 {
					t.Fatalf("WWW-Authenticate %q on a %d", wa, resp.StatusCode)
				}
			case strings.HasSuffix(tt.challenge, ", "):
				if len(wa) != 1 || !strings.HasPrefix(wa[0], tt.challenge+"error_description=") {
					t.Fatalf("WWW-Authenticate %q, want %s error_description=…", wa, tt.challenge)
				}
			default:
				if len(wa) != 1 || wa[0] != tt.challenge {
					t.Fatalf("WWW-Authenticate %q, want exactly %q", wa, tt.challenge)
				}
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
}
