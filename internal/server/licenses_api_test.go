package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// apiEnv is a whole LoginSign server over HTTP with a developer, their application, a rival
// developer with theirs, and helpers to call it.
type apiEnv struct {
	t        testing.TB
	s        *Server
	url      string
	dev      *ent.User
	app      *ent.Application
	secret   string
	rival    *ent.User
	rivalApp *ent.Application
	rivalSec string
	now      time.Time
}

func newAPIEnv(t *testing.T, dbURL string, limits licenses.RedeemLimits) *apiEnv {
	t.Helper()
	return newAPIEnvWith(t, dbURL, limits, nil, io.Discard)
}

// newAPIEnvWith is newAPIEnv with more environment variables and the server's log going to
// logs.
func newAPIEnvWith(t testing.TB, dbURL string, limits licenses.RedeemLimits, more map[string]string, logs io.Writer) *apiEnv {
	t.Helper()
	ctx := context.Background()
	m := map[string]string{"DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(), "REDIS_URL": kvtest.URL(t)}
	for k, v := range more {
		m[k] = v
	}
	cfg, err := loadConfig(nil, env(m))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &apiEnv{t: t, s: s, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s.licenses.Now = func() time.Time { return e.now }
	s.licenses.Limits = limits
	srv := httptest.NewServer(validated(t, s.routes()))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.dev = e.person("dev@example.com", "Dev")
	e.rival = e.person("rival@example.com", "Rival")
	e.app, e.secret = e.application(e.dev, "Demo")
	e.rivalApp, e.rivalSec = e.application(e.rival, "Rival")
	return e
}

func (e *apiEnv) person(email, name string) *ent.User {
	e.t.Helper()
	u, err := e.s.identity.CreateUser(context.Background(), email, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// application creates an application of owner. Its redirect URI is on app.example.com for the
// developer dev@example.com and on a host of their own for others (another developer's
// application may not register one's host).
func (e *apiEnv) application(owner *ent.User, name string) (*ent.Application, string) {
	e.t.Helper()
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
	redirect := "https://app.example.com/cb"
	if owner.Email != "dev@example.com" {
		redirect = "https://app-" + strings.ToLower(strings.ReplaceAll(owner.ID, "_", "-")) + ".example.com/cb"
	}
	c, err := e.s.portal.CreateApplication(ctx, portal.ApplicationInput{Name: name, RedirectURIs: []string{redirect}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Application, c.ClientSecret
}

func (e *apiEnv) connect(u *ent.User, app *ent.Application, joined time.Time) *ent.AppConnection {
	e.t.Helper()
	c, err := e.s.db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
		SetAliasEmail(ids.RandomLower(8) + "@relay.localhost").SetJoinedAt(joined).Save(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	// As a sign-in leaves it: the person granted the default scopes (the name shows with profile).
	e.s.db.Consent.Create().SetConnectionID(c.ID).SetScopes([]string{"openid", "email", "profile"}).ExecX(context.Background())
	return c
}

// cookie signs u in and returns their session cookie.
func (e *apiEnv) cookie(u *ent.User) *http.Cookie {
	e.t.Helper()
	raw, err := e.s.identity.Sessions.Create(context.Background(), u.ID, "test", "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Cookie{Name: "ls_session", Value: raw}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// call sends a request; body is JSON-encoded unless it is a string. It returns the status,
// the headers and the body.
func (e *apiEnv) call(method, path string, body any, headers map[string]string, cookie *http.Cookie) (int, http.Header, string) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(out))
}

// decode unmarshals a JSON body.
func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return v
}

func TestAppBasicAuth(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			users := "/api/applications/" + e.app.ID + "/users"
			status := "/api/applications/" + e.app.ID + "/users/AB1234/status"
			const (
				missing = `{"error":"unauthorized","error_description":"send Authorization: Basic base64(client_id:client_secret)"}`
				invalid = `{"error":"invalid_client","error_description":"client authentication failed"}`
				other   = `{"error":"forbidden","error_description":"the client_id does not match the application in the path"}`
			)
			tests := []struct {
				name       string
				auth       string
				wantStatus int
				wantBody   string
			}{
				{"no Authorization header", "", 401, missing},
				{"another scheme", "Digest " + e.secret, 401, missing},
				{"malformed base64", "Basic %%%not-base64", 401, invalid},
				{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte(e.app.ID+e.secret)), 401, invalid},
				{"unknown application", basic("app_doesnotexist", e.secret), 401, invalid},
				{"wrong secret", basic(e.app.ID, e.secret+"x"), 401, invalid},
				{"empty secret", basic(e.app.ID, ""), 401, invalid},
				{"another application's valid credentials", basic(e.rivalApp.ID, e.rivalSec), 403, other},
				{"another application's id with this secret", basic(e.rivalApp.ID, e.secret), 401, invalid},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					h := map[string]string{}
					if tt.auth != "" {
						h["Authorization"] = tt.auth
					}
					for _, req := range []struct{ method, path string }{{"GET", users}, {"PATCH", status}} {
						var body any
						if req.method == "PATCH" {
							body = map[string]any{"status": "PRO"}
						}
						code, hdr, got := e.call(req.method, req.path, body, h, nil)
						if code != tt.wantStatus || got != tt.wantBody {
							t.Fatalf("%s %s = %d %s; want %d %s", req.method, req.path, code, got, tt.wantStatus, tt.wantBody)
						}
						if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
							t.Fatalf("401 without WWW-Authenticate: Basic (%q)", hdr.Get("WWW-Authenticate"))
						}
					}
				})
			}
			t.Run("right credentials", func(t *testing.T) {
				code, _, got := e.call("GET", users, nil, map[string]string{"Authorization": basic(e.app.ID, e.secret)}, nil)
				if code != 200 || got != `{"users":[],"total":0}` {
					t.Fatalf("= %d %s", code, got)
				}
			})
		})
	}
}

// TestAppRateLimit: successful app-backend calls are limited by the application's quota
// (clientRequestsPerMinute, set in the portal), and only its own.
func TestAppRateLimit(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	if code, _, body := e.call("PATCH", "/api/developer/applications/"+e.app.ID, map[string]any{"clientRequestsPerMinute": 3}, nil, e.cookie(e.dev)); code != 200 ||
		!strings.Contains(body, `"clientRequestsPerMinute":3`) {
		t.Fatalf("setting the quota = %d %s", code, body)
	}
	h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
	for i := range 3 {
		if code, _, body := e.call("GET", "/api/applications/"+e.app.ID+"/users", nil, h, nil); code != 200 {
			t.Fatalf("request %d = %d %s", i+1, code, body)
		}
	}
	code, hdr, body := e.call("GET", "/api/applications/"+e.app.ID+"/users", nil, h, nil)
	if code != 429 || body != `{"error":"rate_limited","error_description":"too many requests; retry later"}` {
		t.Fatalf("4th request = %d %s", code, body)
	}
	if ra := hdr.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// Another client is counted apart.
	if code, _, _ := e.call("GET", "/api/applications/"+e.rivalApp.ID+"/users", nil, map[string]string{"Authorization": basic(e.rivalApp.ID, e.rivalSec)}, nil); code != 200 {
		t.Fatalf("another client = %d", code)
	}
}

func TestCurrentLoginsAPI(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ann, bob := e.person("ann@example.com", "Ann"), e.person("bob@example.com", "")
			joined := time.Date(2025, 11, 10, 9, 30, 0, 0, time.UTC)
			ca := e.connect(ann, e.app, joined)
			last := time.Date(2026, 5, 3, 11, 4, 12, 0, time.UTC)
			e.s.db.AppConnection.UpdateOne(ca).SetAppEmail("ann@example.com").SetLoginCount(42).SetLastSessionAt(last).ExecX(context.Background())
			cb := e.connect(bob, e.app, joined)
			e.s.db.AppConnection.UpdateOne(cb).SetActive(false).ExecX(context.Background())
			e.connect(ann, e.rivalApp, joined) // not this application's
			h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
			code, hdr, body := e.call("GET", "/api/applications/"+e.app.ID+"/users", nil, h, nil)
			rows := map[string]string{
				ann.GlobalID: fmt.Sprintf(`{"globalId":%q,"email":"ann@example.com","aliasEmail":%q,"displayName":"Ann","loginCount":42,"lastSession":"2026-05-03T11:04:12.000Z","joinedAt":"2025-11-10T09:30:00.000Z","isActive":true}`, ann.GlobalID, ca.AliasEmail),
				bob.GlobalID: fmt.Sprintf(`{"globalId":%q,"email":%q,"aliasEmail":%q,"displayName":null,"loginCount":0,"lastSession":null,"joinedAt":"2025-11-10T09:30:00.000Z","isActive":false}`, bob.GlobalID, cb.AliasEmail, cb.AliasEmail),
			}
			first, second := rows[ann.GlobalID], rows[bob.GlobalID]
			if cb.ID < ca.ID {
				first, second = second, first
			}
			if want := `{"users":[` + first + `,` + second + `],"total":2}`; code != 200 || body != want {
				t.Fatalf("= %d\n%s\nwant\n%s", code, body, want)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			t.Run("limit and cursor keep the total", func(t *testing.T) {
				code, _, body := e.call("GET", "/api/applications/"+e.app.ID+"/users?limit=1", nil, h, nil)
				page := decode[struct {
					Users      []map[string]any
					Total      int
					NextCursor string
				}](t, body)
				if code != 200 || len(page.Users) != 1 || page.Total != 2 || page.NextCursor == "" || !strings.Contains(body, first) {
					t.Fatalf("page 1 = %d %s", code, body)
				}
				code, _, body = e.call("GET", "/api/applications/"+e.app.ID+"/users?limit=1&cursor="+url.QueryEscape(page.NextCursor), nil, h, nil)
				if want := `{"users":[` + second + `],"total":2}`; code != 200 || body != want {
					t.Fatalf("page 2 = %d %s", code, body)
				}
			})
			for _, q := range []string{"limit=0", "limit=x", "limit=10001", "cursor=!!", "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("usr_x"))} {
				t.Run("bad "+q, func(t *testing.T) {
					code, _, body := e.call("GET", "/api/applications/"+e.app.ID+"/users?"+q, nil, h, nil)
					if code != 400 || !strings.HasPrefix(body, `{"error":"invalid_request","error_description":`) {
						t.Fatalf("= %d %s", code, body)
					}
				})
			}
		})
	}
}

func TestStatusSyncAPI(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ann := e.person("ann@example.com", "Ann")
			conn := e.connect(ann, e.app, e.now)
			h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
			path := "/api/applications/" + e.app.ID + "/users/" + strings.ToLower(ann.GlobalID) + "/status"
			type license struct {
				ID, Code, State        string
				ActivatedAt, ExpiresAt *string
				Reused                 bool
			}
			type answer struct {
				OK                   bool
				Action, ConnectionID string
				Status               string
				Variant              *struct{ ID, Name, Duration string }
				License              *license
			}
			code, _, body := e.call("PATCH", path, map[string]any{"status": "premium", "variantName": "Premium", "duration": "YEAR"}, h, nil)
			g := decode[answer](t, body)
			if code != 200 || !g.OK || g.Action != "granted" || g.ConnectionID != conn.ID || g.Status != "PREMIUM" ||
				g.Variant == nil || g.Variant.Name != "Premium" || g.Variant.Duration != "YEAR" || g.License == nil ||
				g.License.State != "ACTIVE" || g.License.Reused || *g.License.ActivatedAt != "2026-03-01T12:00:00.000Z" ||
				*g.License.ExpiresAt != "2027-03-01T12:00:00.000Z" {
				t.Fatalf("grant = %d %s", code, body)
			}
			keys := decode[map[string]any](t, body)
			if len(keys) != 6 || len(keys["license"].(map[string]any)) != 6 || len(keys["variant"].(map[string]any)) != 3 {
				t.Fatalf("grant keys: %s", body)
			}
			code, _, body = e.call("PATCH", path, map[string]any{"status": "PREMIUM", "variantName": "premium", "expiresAt": "2030-01-01T00:00:00Z"}, h, nil)
			u := decode[answer](t, body)
			if code != 200 || u.Action != "granted" || !u.License.Reused || u.License.ID != g.License.ID || *u.License.ExpiresAt != "2030-01-01T00:00:00.000Z" {
				t.Fatalf("update = %d %s", code, body)
			}
			code, _, body = e.call("PATCH", path, map[string]any{"revoke": true}, h, nil)
			if want := fmt.Sprintf(`{"ok":true,"action":"revoked","connectionId":%q}`, conn.ID); code != 200 || body != want {
				t.Fatalf("revoke = %d %s", code, body)
			}
			code, _, body = e.call("PATCH", path, map[string]any{"status": "FREE", "expiresAt": nil}, h, nil)
			if want := fmt.Sprintf(`{"ok":true,"action":"unchanged","connectionId":%q,"status":"FREE"}`, conn.ID); code != 200 || body != want {
				t.Fatalf("unchanged = %d %s", code, body)
			}
			for _, tt := range []struct {
				name, path string
				body       any
				status     int
				want       string
			}{
				{"empty body", path, "", 400, `{"error":"invalid_request","error_description":"body is empty; send a JSON object"}`},
				{"malformed JSON", path, "{", 400, `{"error":"invalid_request","error_description":"malformed JSON"}`},
				{"unknown field", path, map[string]any{"plan": "PRO"}, 400, `{"error":"invalid_request","error_description":"unknown field \"plan\""}`},
				{"wrong type", path, map[string]any{"revoke": "yes"}, 400, `{"error":"invalid_request","error_description":"field \"revoke\" must be bool"}`},
				{"neither status nor revoke", path, map[string]any{"duration": "YEAR"}, 400, `{"error":"invalid_request","error_description":"status is required unless revoke is true"}`},
				{"bad duration", path, map[string]any{"status": "PRO", "duration": "WEEK"}, 400, `{"error":"invalid_request","error_description":"duration must be MONTH, YEAR or LIFETIME"}`},
				{"bad expiresAt", path, map[string]any{"status": "PRO", "expiresAt": "tomorrow"}, 400, `{"error":"invalid_request","error_description":"expiresAt must be an RFC 3339 timestamp such as 2026-05-03T11:04:12.000Z, or null"}`},
				{"unknown globalId", "/api/applications/" + e.app.ID + "/users/ZZ9999/status", map[string]any{"status": "PRO"}, 404, `{"error":"not_found","error_description":"no user ZZ9999 is connected to this application"}`},
				{"no connection", "/api/applications/" + e.app.ID + "/users/" + e.dev.GlobalID + "/status", map[string]any{"status": "PRO"}, 404, `{"error":"not_found","error_description":"no user ` + e.dev.GlobalID + ` is connected to this application"}`},
			} {
				t.Run(tt.name, func(t *testing.T) {
					code, _, body := e.call("PATCH", tt.path, tt.body, h, nil)
					if code != tt.status || body != tt.want {
						t.Fatalf("= %d %s; want %d %s", code, body, tt.status, tt.want)
					}
				})
			}
		})
	}
}
