package server

// Client authentication at the token-style endpoints, to the letter of RFC 6749 §2.3 and
// §3.2: a request with two Authorization headers authenticates nobody (which one counts would
// depend on who reads it), and a client_secret sent empty beside a Basic header is as if
// omitted, not a second method.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// postWithHeaders posts the form body to path of e with every Authorization value in order.
func postWithHeaders(t *testing.T, e *oauthEnv, path, body string, authorization ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("POST %s: %d, body not JSON: %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, m, resp.Header
}

func basicHeader(app testApp) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(app.ID), url.QueryEscape(app.Secret))
	return r.Header.Get("Authorization")
}

// TestTwoAuthorizationHeadersAuthenticateNoClient: a developer's client sends its own valid
// Basic credentials and a second Authorization header (another client's). Before, the first
// header silently won (a proxy or a WAF in front that reads the last one saw another client):
// the token endpoint issued tokens. Now every token-style endpoint answers 401 invalid_client
// with WWW-Authenticate: Basic, as the Bearer routes already refuse two headers.
func TestTwoAuthorizationHeadersAuthenticateNoClient(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	evil := e.createAppOf("evil@example.com", "Evil", "https://evil.example.test/cb")
	victim := testApp{ID: e.app.ID, Secret: "lss_not_the_secret"}
	for _, tt := range []struct{ path, body string }{
		{"/oauth/token", "grant_type=client_credentials"},
		{"/oauth/introspect", "token=lsat_unknown"},
		{"/oauth/revoke", "token=lsat_unknown"},
		{"/oauth/par", "response_type=code&redirect_uri=" + url.QueryEscape("https://evil.example.test/cb") + "&scope=openid"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			st, body, hdr := postWithHeaders(t, e, tt.path, tt.body, basicHeader(evil), basicHeader(victim))
			wantOAuthError(t, st, body, hdr, http.StatusUnauthorized, "invalid_client")
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("invalid_client without WWW-Authenticate: Basic: %v", hdr)
			}
			// One header of the same client works.
			if st, body, _ := postWithHeaders(t, e, tt.path, tt.body, basicHeader(evil)); st >= 300 {
				t.Fatalf("one Authorization header: %d %v", st, body)
			}
		})
	}
}

// TestAnEmptyClientSecretBesideBasicIsOmitted: RFC 6749 §3.2, parameters sent without a value
// are treated as omitted; a client that adds client_secret= to its form while authenticating
// with Basic uses one method. Before, it was refused as two (400 invalid_request). A
// client_secret with a value beside Basic is still refused.
func TestAnEmptyClientSecretBesideBasicIsOmitted(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	st, body, _ := postWithHeaders(t, e, "/oauth/token", "grant_type=client_credentials&client_secret=", basicHeader(e.app))
	if st != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("Basic with an empty client_secret: %d %v, want 200 with a token", st, body)
	}
	st, body, hdr := postWithHeaders(t, e, "/oauth/token", "grant_type=client_credentials&client_secret="+url.QueryEscape(e.app.Secret), basicHeader(e.app))
	wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_request")
	st, body, hdr = postWithHeaders(t, e, "/oauth/token", "grant_type=client_credentials&client_secret=&client_secret=x", basicHeader(e.app))
	wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_request")
}
