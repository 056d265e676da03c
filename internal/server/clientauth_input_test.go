package server

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBasicCredentialsThatAreNotTextAre401: HTTP Basic credentials whose client_id or
// client_secret decodes to a NUL or invalid UTF-8 (raw or percent-encoded) are refused on
// every route that authenticates clients with 401 invalid_client and WWW-Authenticate: Basic
// (RFC 6749 §5.2: the client authenticated through the header). On PostgreSQL they reached
// the applications table and were a 500.
func TestBasicCredentialsThatAreNotTextAre401(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		routes := []struct{ method, path, form string }{
			{http.MethodPost, "/oauth/token", "grant_type=client_credentials"},
			{http.MethodPost, "/oauth/revoke", "token=lsat_x"},
			{http.MethodPost, "/oauth/introspect", "token=lsat_x"},
			{http.MethodPost, "/oauth/par", "response_type=code&redirect_uri=" + url.QueryEscape(rpCallback)},
			{http.MethodGet, "/api/applications/" + e.app.ID + "/users", ""},
		}
		// Five credentials on five routes: 25 failures, within the address's default budget
		// of 30 a minute, so each answer is the failure's own (401), not 429.
		for _, cred := range []struct{ name, userPass string }{
			{"NUL in the client_id", "app_\x00:x"},
			{"invalid UTF-8 in the client_id", "app_\xff\xfe:x"},
			{"percent-encoded NUL in the client_id", "app_%00:x"},
			{"percent-encoded overlong NUL in the client_id", "app_%C0%80:x"},
			{"NUL in the client_secret", e.app.ID + ":" + "%00"},
		} {
			header := "Basic " + base64.StdEncoding.EncodeToString([]byte(cred.userPass))
			for _, rt := range routes {
				t.Run(cred.name+" "+rt.path, func(t *testing.T) {
					req, _ := http.NewRequest(rt.method, e.base+rt.path, strings.NewReader(rt.form))
					if rt.form != "" {
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					req.Header.Set("Authorization", header)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					raw, _ := io.ReadAll(resp.Body)
					var body struct {
						Error string `json:"error"`
					}
					if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(raw, &body) != nil || body.Error != "invalid_client" ||
						!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
						t.Fatalf("%s %s: %d %s (WWW-Authenticate %q), want 401 invalid_client with a Basic challenge",
							rt.method, rt.path, resp.StatusCode, raw, resp.Header.Get("WWW-Authenticate"))
					}
				})
			}
		}
	})
}

// TestAClientIDThatIsNotAnIDIsA4xxOnEveryRoute: the routes that name a client in a form body
// (POST /oauth/authorize, POST /oauth/logout) or a query never look up a client_id outside the
// id alphabet: with a NUL or invalid UTF-8 it reached the applications table, and PostgreSQL
// answered 500.
func TestAClientIDThatIsNotAnIDIsA4xxOnEveryRoute(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, id := range []string{"app_%00", "app_%FF", "app_%C0%80", "app_ABC"} {
			for _, path := range []string{"/oauth/authorize", "/oauth/logout"} {
				form := "client_id=" + id + "&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid"
				req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", e.base)
				resp, err := noRedirects.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("POST %s client_id=%s: %d %.200s, want a 4xx", path, id, resp.StatusCode, raw)
				}
				get, err := noRedirects.Get(e.base + path + "?" + form)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ = io.ReadAll(get.Body)
				get.Body.Close()
				if get.StatusCode >= 500 {
					t.Errorf("GET %s client_id=%s: %d %.200s, want a 4xx", path, id, get.StatusCode, raw)
				}
			}
		}
	})
}
