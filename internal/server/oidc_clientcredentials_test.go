package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// appAPI calls an app-backend route with a Bearer token and returns status, body and headers.
func (e *oauthEnv) appAPI(method, path, token, body string) (int, string, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// client_credentials (RFC 6749 §4.4) gives an app backend an access token for its own app API
// only: no refresh token, no id_token, no person; it is introspectable and revocable, scoped
// per route, useless on /api/user and on another application's routes.
func TestClientCredentialsGrant(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		other := e.createApp("Other App", rpCallback)

		st, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"client_credentials"}})
		if st != 200 || body["token_type"] != "Bearer" || body["scope"] != "app:users:read app:users:write" ||
			body["expires_in"] != float64(3600) || body["refresh_token"] != nil || body["id_token"] != nil || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("client_credentials: %d %v %v", st, body, hdr)
		}
		full := body["access_token"].(string)

		st, body, hdr = e.tokenRequest(e.app, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}})
		wantOAuthError(t, st, body, hdr, 400, "invalid_scope")
		st, body, hdr = e.tokenRequest(testApp{ID: e.app.ID, Secret: "lss_wrong"}, url.Values{"grant_type": {"client_credentials"}})
		wantOAuthError(t, st, body, hdr, 401, "invalid_client")

		st, body, _ = e.postForm("/oauth/introspect", e.app, url.Values{"token": {full}})
		if st != 200 || body["active"] != true || body["sub"] != e.app.ID || body["client_id"] != e.app.ID ||
			body["scope"] != "app:users:read app:users:write" || body["token_type"] != "Bearer" {
			t.Fatalf("introspection: %d %v", st, body)
		}
		if _, body, _ = e.postForm("/oauth/introspect", other, url.Values{"token": {full}}); body["active"] != false {
			t.Fatalf("another client sees the token active: %v", body)
		}
		if st, _, _ := e.apiUser(full); st != 401 {
			t.Fatalf("/api/user with a client token: %d, want 401", st)
		}

		users := "/api/applications/" + e.app.ID + "/users"
		if st, b, _ := e.appAPI(http.MethodGet, users, full, ""); st != 200 || !strings.Contains(b, `"users"`) {
			t.Fatalf("GET users with the client token: %d %s", st, b)
		}
		if st, b, h := e.appAPI(http.MethodGet, "/api/applications/"+other.ID+"/users", full, ""); st != 403 ||
			!strings.Contains(b, `"insufficient_scope"`) || !strings.Contains(h.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Fatalf("another app's users: %d %s %v", st, b, h)
		}

		_, body, _ = e.tokenRequest(e.app, url.Values{"grant_type": {"client_credentials"}, "scope": {"app:users:read"}})
		readOnly := body["access_token"].(string)
		if body["scope"] != "app:users:read" {
			t.Fatalf("narrowed scope: %v", body)
		}
		st, b, h := e.appAPI(http.MethodPatch, "/api/applications/"+e.app.ID+"/users/1234567890/status", readOnly, `{"status":"blocked"}`)
		if st != 403 || !strings.Contains(b, `"insufficient_scope"`) || !strings.Contains(h.Get("WWW-Authenticate"), `scope="app:users:write"`) {
			t.Fatalf("PATCH status with a read-only token: %d %s %v", st, b, h)
		}

		if st, _, _ := e.postForm("/oauth/revoke", e.app, url.Values{"token": {full}}); st != 200 {
			t.Fatalf("revoke: %d", st)
		}
		if st, b, h := e.appAPI(http.MethodGet, users, full, ""); st != 401 || !strings.Contains(b, `"invalid_token"`) ||
			!strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("revoked token: %d %s %v", st, b, h)
		}
		if _, body, _ = e.postForm("/oauth/introspect", e.app, url.Values{"token": {full}}); body["active"] != false {
			t.Fatalf("revoked token introspects active: %v", body)
		}
	})
}
