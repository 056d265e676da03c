package rest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/appapi"
	"loginsign/internal/auth"
	"loginsign/internal/clientauth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/rest"
)

// The REST transport maps every domain error once per route family: the token-style
// endpoints to RFC 6749 §5.2 ({"error","error_description"}, no-store, WWW-Authenticate for
// invalid_client, Retry-After for rate_limited), the Bearer routes to RFC 6750 §3.1, the
// app-backend API to its {"error","error_description"} with Basic or Bearer challenges, and the
// portal routes to {"error","message"}. These tests drive the handlers over real HTTP
// (httptest) on the real domain services.

type restEnv struct {
	srv      *httptest.Server
	db       *store.DB
	kv       *kv.Store
	api      *rest.API
	identity *identity.Service
}

// forRESTBackends runs fn on SQLite with the embedded store, and on PostgreSQL with real
// Redis when the env names both.
func forRESTBackends(t *testing.T, fn func(t *testing.T, e *restEnv)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t)))
	})
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" || os.Getenv(kvtest.EnvRedis) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, newRESTEnv(t, storetest.Postgres(t, base), kvtest.Real(t)))
	})
}

func newRESTEnv(t *testing.T, db *store.DB, k *kv.Store) *restEnv {
	t.Helper()
	key := []byte("0123456789abcdef0123456789abcdef")
	signing, _ := seal.New(key, "signing keys")
	hooks, _ := seal.New(key, "webhook secrets")
	id := identity.New(db, k, nil, identity.SessionConfig{})
	o := oauth.New(db, k, id, nil, signing, oauth.Config{Issuer: "https://id.test.example", RelayDomain: "relay.test.example"}, nil)
	o.Clients.Limits = clientauth.Limits{FailuresPerClient: ratelimit.Rule{Name: "client-fail:id", N: 3, Window: time.Minute}}
	api := &rest.API{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Identity: id, OAuth: o, KV: k,
		Portal: &portal.Service{DB: db, WebhookSecrets: hooks, RelayDomain: "relay.test.example", Identity: id},
		AppAPI: &appapi.Service{DB: db, Clients: o.Clients},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", api.Token)
	mux.HandleFunc("POST /oauth/introspect", api.Introspect)
	mux.HandleFunc("/oauth/token", api.OAuthMethodNotAllowed)
	mux.Handle("GET /api/user", api.Bearer(http.HandlerFunc(api.User)))
	mux.Handle("GET /api/applications/{appId}/users", api.AppClient(http.HandlerFunc(api.CurrentLogins)))
	mux.HandleFunc("POST /api/developer/applications", api.CreateDeveloperApplication)
	mux.HandleFunc("GET /api/developer/applications/{appId}", api.DeveloperApplication)
	mux.HandleFunc("PATCH /api/developer/applications/{appId}", api.UpdateDeveloperApplication)
	mux.HandleFunc("DELETE /api/developer/applications/{appId}", api.DeleteDeveloperApplication)
	mux.HandleFunc("POST /api/developer/applications/{appId}/secret/rotate", api.RotateClientSecret)
	mux.HandleFunc("POST /api/developer/applications/{appId}/import-existing-users/csv", api.ImportExistingUsers)
	mux.HandleFunc("POST /api/developer/applications/{appId}/licenses/codes/upload", api.UploadCodes)
	mux.HandleFunc("POST /api/developer/applications/{appId}/import-sources/{sourceId}/rollback", api.RollbackDeveloperImport)
	srv := httptest.NewServer(api.Sessions(mux))
	t.Cleanup(srv.Close)
	return &restEnv{srv: srv, db: db, kv: k, api: api, identity: id}
}

// client registers an application of a new developer and returns it, its secret and the
// developer's session cookie.
func (e *restEnv) client(t *testing.T) (*ent.Application, string, *http.Cookie) {
	t.Helper()
	ctx := context.Background()
	dev, err := e.identity.CreateUser(ctx, "dev-"+ids.New("")+"@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	// Each developer's application on a host of its own: another developer's application may
	// not register one's host.
	host := "shop-" + strings.ToLower(strings.ReplaceAll(dev.ID, "_", "-")) + ".example"
	created, err := e.api.Portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://" + host + "/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.identity.Sessions.Create(ctx, dev.ID, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return created.Application, created.ClientSecret, &http.Cookie{Name: "ls_session", Value: raw}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *restEnv) do(t *testing.T, method, path, contentType, body string, header map[string]string, cookie *http.Cookie) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, b)
		}
	}
	return a
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

const form = "application/x-www-form-urlencoded"

// TestTokenEndpointErrorMapping: every refusal of POST /oauth/token in the RFC 6749 §5.2 shape
// with its status and headers.
func TestTokenEndpointErrorMapping(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, _ := e.client(t)
		good := map[string]string{"Authorization": basic(app.ID, secret)}
		tests := []struct {
			name, method, path, ctype, body string
			header                          map[string]string
			status                          int
			code                            string
			want                            map[string]string // headers
		}{
			{"client_credentials succeeds", "POST", "/oauth/token", form, "grant_type=client_credentials", good, 200, "", nil},
			{"wrong content type", "POST", "/oauth/token", "application/json", `{"grant_type":"client_credentials"}`, good, 400, "invalid_request", nil},
			{"parameters in the query", "POST", "/oauth/token?grant_type=client_credentials", form, "", good, 400, "invalid_request", nil},
			{"malformed form", "POST", "/oauth/token", form, "grant_type=%zz", good, 400, "invalid_request", nil},
			{"control character in a parameter", "POST", "/oauth/token", form, "grant_type=client_credentials&scope=%00", good, 400, "invalid_request", nil},
			{"body over 64 KiB", "POST", "/oauth/token", form, "grant_type=client_credentials&pad=" + strings.Repeat("a", 70<<10), good, 413, "invalid_request", nil},
			{"no client authentication", "POST", "/oauth/token", form, "grant_type=client_credentials", nil, 401, "invalid_client",
				map[string]string{"WWW-Authenticate": "Basic"}},
			{"wrong secret", "POST", "/oauth/token", form, "grant_type=client_credentials", map[string]string{"Authorization": basic(app.ID, "lss_wrong")}, 401, "invalid_client",
				map[string]string{"WWW-Authenticate": "Basic"}},
			{"malformed Basic header", "POST", "/oauth/token", form, "grant_type=client_credentials", map[string]string{"Authorization": "Basic ***"}, 401, "invalid_client", nil},
			{"Bearer instead of Basic", "POST", "/oauth/token", form, "grant_type=client_credentials", map[string]string{"Authorization": "Bearer x"}, 401, "invalid_client", nil},
			{"Basic and a form secret", "POST", "/oauth/token", form, "grant_type=client_credentials&client_secret=" + secret, good, 400, "invalid_request", nil},
			{"unsupported grant", "POST", "/oauth/token", form, "grant_type=password", good, 400, "unsupported_grant_type", nil},
			{"unknown code", "POST", "/oauth/token", form, "grant_type=authorization_code&code=lsac_x&redirect_uri=https%3A%2F%2Fshop.example%2Fcb", good, 400, "invalid_grant", nil},
			{"person scope for client_credentials", "POST", "/oauth/token", form, "grant_type=client_credentials&scope=openid", good, 400, "invalid_scope", nil},
			{"GET is 405", "GET", "/oauth/token", "", "", nil, 405, "invalid_request", map[string]string{"Allow": "POST"}},
			{"introspection without a token", "POST", "/oauth/introspect", form, "", good, 400, "invalid_request", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := e.do(t, tt.method, tt.path, tt.ctype, tt.body, tt.header, nil)
				if a.status != tt.status {
					t.Fatalf("status %d, want %d: %v", a.status, tt.status, a.body)
				}
				if a.header.Get("Cache-Control") != "no-store" {
					t.Fatalf("Cache-Control %q", a.header.Get("Cache-Control"))
				}
				if tt.code == "" {
					if a.body["access_token"] == nil || a.body["token_type"] != "Bearer" {
						t.Fatalf("token response %v", a.body)
					}
					return
				}
				if a.body["error"] != tt.code || a.body["error_description"] == "" {
					t.Fatalf("body %v, want error %s with a description", a.body, tt.code)
				}
				for k, v := range tt.want {
					if !strings.Contains(a.header.Get(k), v) {
						t.Fatalf("%s: %q, want %q", k, a.header.Get(k), v)
					}
				}
			})
		}

		t.Run("failures past the client's limit are 429 with Retry-After", func(t *testing.T) {
			other, _, _ := e.client(t)
			var a answer
			for i := 0; i < 4; i++ {
				a = e.do(t, "POST", "/oauth/token", form, "grant_type=client_credentials",
					map[string]string{"Authorization": basic(other.ID, "lss_wrong")}, nil)
			}
			if a.status != 429 || a.body["error"] != "rate_limited" || a.header.Get("Retry-After") == "" {
				t.Fatalf("the 4th wrong secret: %d %v Retry-After=%q", a.status, a.body, a.header.Get("Retry-After"))
			}
		})
	})
}

// TestBearerAndAppBackendErrorMapping: GET /api/user (RFC 6750 §3.1) and the app-backend API
// (Basic or a client_credentials Bearer token).
func TestBearerAndAppBackendErrorMapping(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, _ := e.client(t)
		other, otherSecret, _ := e.client(t)
		cc := e.do(t, "POST", "/oauth/token", form, "grant_type=client_credentials&scope=app%3Ausers%3Awrite",
			map[string]string{"Authorization": basic(app.ID, secret)}, nil)
		writeOnly, _ := cc.body["access_token"].(string)
		if writeOnly == "" {
			t.Fatalf("client_credentials: %v", cc.body)
		}
		users := "/api/applications/" + app.ID + "/users"
		tests := []struct {
			name, path, auth string
			status           int
			code, challenge  string
		}{
			{"userinfo without a token", "/api/user", "", 401, "invalid_token", `Bearer realm="loginsign"`},
			{"userinfo with a malformed header", "/api/user", "Bearer a b", 400, "invalid_request", `Bearer realm="loginsign", error="invalid_request"`},
			{"userinfo with an unknown token", "/api/user", "Bearer lsat_unknown", 401, "invalid_token", "Bearer"},
			{"userinfo with an app token", "/api/user", "Bearer " + writeOnly, 401, "invalid_token", "Bearer"},
			{"app API with Basic", users, basic(app.ID, secret), 200, "", ""},
			{"app API without credentials", users, "", 401, "unauthorized", `Basic realm="loginsign"`},
			{"app API with a wrong secret", users, basic(app.ID, "lss_wrong"), 401, "invalid_client", `Basic realm="loginsign"`},
			{"app API with a malformed Basic header", users, "Basic !!!", 401, "invalid_client", `Basic realm="loginsign"`},
			{"app API with another application's credentials", users, basic(other.ID, otherSecret), 403, "forbidden", ""},
			{"app API with an unknown Bearer token", users, "Bearer lsat_unknown", 401, "invalid_token", `Bearer realm="loginsign", error="invalid_token"`},
			{"app API with a malformed Bearer header", users, "Bearer a b", 400, "invalid_request", `Bearer realm="loginsign", error="invalid_request"`},
			{"app API with a Bearer scheme and no token", users, "Bearer", 400, "invalid_request", `Bearer realm="loginsign", error="invalid_request"`},
			{"app API with a token lacking the scope", users, "Bearer " + writeOnly, 403, "insufficient_scope", `Bearer realm="loginsign", error="insufficient_scope"`},
			{"app API with another application's token", "/api/applications/" + other.ID + "/users", "Bearer " + writeOnly, 403, "insufficient_scope", "Bearer"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := map[string]string{}
				if tt.auth != "" {
					h["Authorization"] = tt.auth
				}
				a := e.do(t, "GET", tt.path, "", "", h, nil)
				if a.status != tt.status {
					t.Fatalf("status %d, want %d: %v", a.status, tt.status, a.body)
				}
				if tt.code == "" {
					return
				}
				if a.body["error"] != tt.code {
					t.Fatalf("body %v, want error %s", a.body, tt.code)
				}
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), tt.challenge) {
					t.Fatalf("WWW-Authenticate %q, want %s", a.header.Get("WWW-Authenticate"), tt.challenge)
				}
			})
		}
	})
}

// TestPortalRouteErrorMapping: the portal routes answer {"error","message"} with the domain
// error's status: 401 signed out, 404 for another developer's application, 400 for a bad body,
// 413 over the limits, 409 for a second rollback.
func TestPortalRouteErrorMapping(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, _, dev := e.client(t)
		_, _, stranger := e.client(t)
		imp := "/api/developer/applications/" + app.ID + "/import-existing-users/csv"
		okCSV := "user_id,email\n1,a@example.com\n"
		tests := []struct {
			name, ctype, body string
			cookie            *http.Cookie
			status            int
			code              string
		}{
			{"a CSV import", "text/csv", okCSV, dev, 200, ""},
			{"a JSON import", "application/json", `{"users":[{"externalUserId":"1","email":"a@example.com"}]}`, dev, 200, ""},
			{"signed out", "text/csv", okCSV, nil, 401, "unauthorized"},
			// Signed out, the body is not even read: before stop 61 it was parsed first.
			{"signed out, malformed CSV", "text/csv", "user_id,email\n1,\"a@example.com\n", nil, 401, "unauthorized"},
			{"signed out, too many rows", "text/csv", "user_id,email\n" + strings.Repeat("1,a@example.com\n", portal.MaxImportRows+1), nil, 401, "unauthorized"},
			{"an unknown session", "text/csv", okCSV, &http.Cookie{Name: "ls_session", Value: "nope"}, 401, "unauthorized"},
			{"another developer", "text/csv", okCSV, stranger, 404, "not_found"},
			{"malformed CSV", "text/csv", "user_id,email\n1,\"a@example.com\n", dev, 400, "invalid_request"},
			{"empty CSV", "text/csv", "", dev, 400, "invalid_request"},
			{"malformed JSON", "application/json", `{"users":`, dev, 400, "invalid_request"},
			{"unknown JSON field", "application/json", `{"users":[],"admin":true}`, dev, 400, "invalid_request"},
			{"no rows", "application/json", `{"users":[]}`, dev, 400, "invalid_request"},
			{"another content type", "application/xml", "<users/>", dev, 400, "invalid_request"},
			{"malformed multipart", "multipart/form-data; boundary=x", "garbage", dev, 400, "invalid_request"},
			{"too many rows", "text/csv", "user_id,email\n" + strings.Repeat("1,a@example.com\n", portal.MaxImportRows+1), dev, 413, "payload_too_large"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := e.do(t, "POST", imp, tt.ctype, tt.body, nil, tt.cookie)
				if a.status != tt.status {
					t.Fatalf("status %d, want %d: %v", a.status, tt.status, a.body)
				}
				if tt.code == "" {
					if a.body["sourceId"] == nil || a.body["total"] != float64(1) {
						t.Fatalf("import answer %v", a.body)
					}
					return
				}
				if a.body["error"] != tt.code || a.body["message"] == "" {
					t.Fatalf("body %v, want error %s with a message", a.body, tt.code)
				}
			})
		}
		t.Run("a second rollback is 409", func(t *testing.T) {
			src := e.do(t, "POST", imp, "text/csv", okCSV, nil, dev).body["sourceId"].(string)
			rb := "/api/developer/applications/" + app.ID + "/import-sources/" + src + "/rollback"
			if a := e.do(t, "POST", rb, "", "", nil, stranger); a.status != 404 {
				t.Fatalf("another developer's rollback: %d %v", a.status, a.body)
			}
			if a := e.do(t, "POST", rb, "", "", nil, dev); a.status != 200 {
				t.Fatalf("rollback: %d %v", a.status, a.body)
			}
			if a := e.do(t, "POST", rb, "", "", nil, dev); a.status != 409 || a.body["error"] != "already_rolled_back" {
				t.Fatalf("a second rollback: %d %v", a.status, a.body)
			}
		})
	})
}

// TestStoreOutageIsTemporarilyUnavailable: while Redis is down the token-style endpoints answer
// 503 temporarily_unavailable with Retry-After (never server_error or a refusal), and a
// request with a session cookie answers 503 rather than being treated as signed out.
func TestStoreOutageIsTemporarilyUnavailable(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, dev := e.client(t)
		e.kv.Close()
		a := e.do(t, "POST", "/oauth/introspect", form, "token=lsat_x", map[string]string{"Authorization": basic(app.ID, secret)}, nil)
		if a.status != 503 || a.body["error"] != "temporarily_unavailable" || a.header.Get("Retry-After") == "" ||
			a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspection with Redis down: %d %v %v", a.status, a.body, a.header)
		}
		imp := "/api/developer/applications/" + app.ID + "/import-existing-users/csv"
		if a := e.do(t, "POST", imp, "text/csv", "user_id,email\n1,a@example.com\n", nil, dev); a.status != 503 || a.header.Get("Retry-After") == "" {
			t.Fatalf("a signed-in request with Redis down: %d %v", a.status, a.body)
		}
	})
}

// TestDeveloperApplicationRouteErrorMapping: the application routes of the portal REST API,
// in order (each step sees the state the earlier ones left): {"error","message"} with the
// domain error's status, and nothing changed by a refused request.
func TestDeveloperApplicationRouteErrorMapping(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		_, _, dev := e.client(t)
		_, _, stranger := e.client(t)
		const apps = "/api/developer/applications"
		const js = "application/json"
		created := e.do(t, "POST", apps, js, `{"name":"Shop","redirectUris":["https://shop.example/cb"]}`, nil, dev)
		id, _ := created.body["id"].(string)
		if created.status != 201 || id == "" || created.body["clientSecret"] == nil {
			t.Fatalf("create: %d %v", created.status, created.body)
		}
		app := apps + "/" + id
		steps := []struct {
			name, method, path, body string
			cookie                   *http.Cookie
			status                   int
			code                     string
		}{
			{"create signed out", "POST", apps, `{"name":"X"}`, nil, 401, "unauthorized"},
			{"create with malformed JSON", "POST", apps, `{"name":`, dev, 400, "invalid_request"},
			{"create with an unknown field", "POST", apps, `{"name":"X","owner":"me"}`, dev, 400, "invalid_request"},
			{"create without a name", "POST", apps, `{}`, dev, 400, "invalid_request"},
			{"create with a quota", "POST", apps, `{"name":"X","clientRequestsPerMinute":5}`, dev, 400, "invalid_request"},
			{"create with an http redirect", "POST", apps, `{"name":"X","redirectUris":["http://shop.example/cb"]}`, dev, 400, "invalid_request"},
			{"read another developer's", "GET", app, "", stranger, 404, "not_found"},
			{"read an unknown one", "GET", apps + "/app_unknown", "", dev, 404, "not_found"},
			{"change another developer's", "PATCH", app, `{"name":"Mine"}`, stranger, 404, "not_found"},
			{"change with a zero quota", "PATCH", app, `{"clientRequestsPerMinute":0}`, dev, 400, "invalid_request"},
			{"change with a wrong type", "PATCH", app, `{"name":5}`, dev, 400, "invalid_request"},
			{"change the name", "PATCH", app, `{"name":"Shop 2"}`, dev, 200, ""},
			{"rotate another developer's secret", "POST", app + "/secret/rotate", "", stranger, 404, "not_found"},
			{"rotate the secret", "POST", app + "/secret/rotate", "", dev, 200, ""},
			{"delete another developer's", "DELETE", app, "", stranger, 404, "not_found"},
			{"read it", "GET", app, "", dev, 200, ""},
			{"delete it", "DELETE", app, "", dev, 200, ""},
			{"read it deleted", "GET", app, "", dev, 404, "not_found"},
		}
		for _, st := range steps {
			ctype := ""
			if st.body != "" {
				ctype = js
			}
			a := e.do(t, st.method, st.path, ctype, st.body, nil, st.cookie)
			if a.status != st.status {
				t.Fatalf("%s: status %d, want %d: %v", st.name, a.status, st.status, a.body)
			}
			if st.code != "" && (a.body["error"] != st.code || a.body["message"] == "") {
				t.Fatalf("%s: body %v, want error %s with a message", st.name, a.body, st.code)
			}
			if st.name == "read it" && a.body["name"] != "Shop 2" {
				t.Fatalf("a refused change changed the application: %v", a.body)
			}
		}
	})
}

// TestCanceledRequestIsNoServerError: a token request whose client went away before the
// answer (its context canceled, so the client check's first call fails: Redis's limits, or
// the database) is recorded as 499 and logged at Info level, not as an internal error (500,
// logged at Error level). The same request from a client that waits is answered.
func TestCanceledRequestIsNoServerError(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, _ := e.client(t)
		var logged bytes.Buffer
		e.api.Log = slog.New(slog.NewTextHandler(&logged, nil)) // no request has been served yet
		send := func(ctx context.Context) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, "POST", "/oauth/token", strings.NewReader("grant_type=refresh_token&refresh_token=lsrt_x"))
			req.Header.Set("Content-Type", form)
			req.Header.Set("Authorization", basic(app.ID, secret))
			rec := httptest.NewRecorder()
			e.srv.Config.Handler.ServeHTTP(rec, req)
			return rec
		}
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		if rec := send(gone); rec.Code != 499 || rec.Body.Len() != 0 {
			t.Fatalf("canceled request: %d %q, want 499 and no body", rec.Code, rec.Body.String())
		}
		if l := logged.String(); strings.Contains(l, "level=ERROR") || !strings.Contains(l, "request canceled by the client") {
			t.Fatalf("log %q, want the cancellation at Info level and no error", l)
		}
		if rec := send(context.Background()); rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid_grant") {
			t.Fatalf("the same request, not canceled: %d %s, want 400 invalid_grant", rec.Code, rec.Body.String())
		}
	})
}
