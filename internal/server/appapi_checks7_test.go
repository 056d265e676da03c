package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/internal/ids"
)

// basicCall calls an app-backend route with HTTP Basic client credentials. err is the error
// of reading the body (a response cut after its status).
func (e *oauthEnv) basicCall(method, path, id, secret string) (status int, body string, hdr http.Header, err error) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, nil)
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

// TestCurrentLoginsRefusesACursorThatIsNotText: the cursor of GET /api/applications/{appId}/users
// is base64, so a NUL or bytes that are not UTF-8 inside it pass the query-string checks. The
// answer must be 400 invalid_request in the documented shape, never a 200 whose body is cut
// (PostgreSQL refuses the decoded text once the status is sent) nor a 500.
func TestCurrentLoginsRefusesACursorThatIsNotText(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.connect(e.browser(), e.app, defaultTestEmail)
		for _, raw := range []string{ids.Connection + "\x00", ids.Connection + "\xff"} {
			path := "/api/applications/" + e.app.ID + "/users?limit=1&cursor=" + base64.RawURLEncoding.EncodeToString([]byte(raw))
			st, body, _, err := e.basicCall(http.MethodGet, path, e.app.ID, e.app.Secret)
			var out map[string]any
			if err != nil || st != http.StatusBadRequest || json.Unmarshal([]byte(body), &out) != nil || out["error"] != "invalid_request" {
				t.Errorf("cursor of %q: %d %q (body read: %v), want 400 invalid_request", raw, st, body, err)
			}
		}
	})
}

// TestAppAPIBadInputAndForeignCredentials: every bad request on the current-logins route is a
// 4xx in the documented {error, error_description} shape; one application's credentials read
// nothing of another's people; an application whose deletion has begun authenticates no more,
// even right after a successful call (cached row).
func TestAppAPIBadInputAndForeignCredentials(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.connect(e.browser(), e.app, defaultTestEmail)
		other := e.createAppOf("mallory@example.com", "Mallory", "https://mallory.example/cb")
		users := "/api/applications/" + e.app.ID + "/users"
		for _, tt := range []struct {
			name, path, id, secret string
			status                 int
			code                   string
		}{
			{"limit 0", users + "?limit=0", e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"negative limit", users + "?limit=-1", e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"limit over the maximum", users + "?limit=10001", e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"limit that overflows", users + "?limit=99999999999999999999999", e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"limit not a number", users + "?limit=1e3", e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"cursor not base64", users + "?cursor=%25%25", e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"cursor of something else", users + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(e.app.ID)), e.app.ID, e.app.Secret, 400, "invalid_request"},
			{"another application's credentials", users, other.ID, other.Secret, 403, "forbidden"},
			{"another application's id, this secret", users, other.ID, e.app.Secret, 401, "invalid_client"},
			{"unknown application in the path", "/api/applications/app_nope/users", e.app.ID, e.app.Secret, 403, "forbidden"},
		} {
			st, body, hdr, err := e.basicCall(http.MethodGet, tt.path, tt.id, tt.secret)
			var out map[string]any
			if err != nil || st != tt.status || json.Unmarshal([]byte(body), &out) != nil || out["error"] != tt.code ||
				out["error_description"] == nil || hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d %s (%v), want %d %s", tt.name, st, body, err, tt.status, tt.code)
			}
			if strings.Contains(body, defaultTestEmail) {
				t.Errorf("%s: the answer names a person: %s", tt.name, body)
			}
		}

		if st, body, _, err := e.basicCall(http.MethodGet, users, e.app.ID, e.app.Secret); err != nil || st != 200 {
			t.Fatalf("the application's own call: %d %s %v", st, body, err)
		}
		e.srv.db.Application.UpdateOneID(e.app.ID).SetDeletingSince(time.Now()).ExecX(context.Background())
		if st, body, _, _ := e.basicCall(http.MethodGet, users, e.app.ID, e.app.Secret); st != http.StatusUnauthorized || strings.Contains(body, defaultTestEmail) {
			t.Errorf("the credentials of an application being deleted: %d %s, want 401 invalid_client", st, body)
		}
	})
}
