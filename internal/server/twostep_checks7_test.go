package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The second step and the passkey sign-in pages answer every bad input with a 4xx, never a
// 500: no pending sign-in, malformed or foreign credentials, a challenge nobody issued. A form
// over its limit is 413, as the other sign-in forms (/login, /login/code) answer it, not a 400
// "malformed form".
func TestSecondStepAndPasskeyPagesRefuseBadInputWith4xx(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		b := e.browser()
		b.get(e.base + "/login")
		opts := b.get(e.base + "/login/passkey")
		if opts.StatusCode != 200 {
			t.Fatalf("passkey options: %d %s", opts.StatusCode, opts.Body)
		}
		stranger := e.addSoftKey(t, "usr_nobody")
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		big := strings.Repeat("a", 128<<10)
		for _, c := range []struct {
			name   string
			method string
			path   string
			form   url.Values
			want   int
		}{
			{"the code form without a pending sign-in", "GET", "/login/verify", nil, http.StatusGone},
			{"a code without a pending sign-in", "POST", "/login/verify", url.Values{"code": {"123456"}}, http.StatusGone},
			{"a code form over its limit", "POST", "/login/verify", url.Values{"code": {big}}, http.StatusRequestEntityTooLarge},
			{"an /login form over its limit (for comparison)", "POST", "/login", url.Values{"email": {big}}, http.StatusRequestEntityTooLarge},
			{"no credential", "POST", "/login/passkey", url.Values{"credential": {""}}, http.StatusBadRequest},
			{"a credential that is not JSON", "POST", "/login/passkey", url.Values{"credential": {"not json"}}, http.StatusBadRequest},
			{"an empty JSON credential", "POST", "/login/passkey", url.Values{"credential": {"{}"}}, http.StatusBadRequest},
			{"a credential with bytes that are not base64", "POST", "/login/passkey", url.Values{"credential": {`{"id":"@@","rawId":"@@","type":"public-key","response":{"clientDataJSON":"@@","authenticatorData":"@@","signature":"@@"}}`}}, http.StatusBadRequest},
			{"a passkey form over its limit", "POST", "/login/passkey", url.Values{"credential": {big}}, http.StatusRequestEntityTooLarge},
			{"a sign-out form over its limit", "POST", "/oauth/logout", url.Values{"state": {big}}, http.StatusRequestEntityTooLarge},
			{"an assertion of a challenge nobody issued", "POST", "/login/passkey", url.Values{"credential": {stranger.assert(t,
				`{"publicKey":{"challenge":"`+b64("never issued by LoginSign, 32 b")+`"}}`)}}, http.StatusGone},
			{"an assertion of an unknown passkey", "POST", "/login/passkey", url.Values{"credential": {stranger.assert(t, opts.Body)}}, http.StatusUnauthorized},
		} {
			var p page
			if c.method == "GET" {
				p = b.get(e.base + c.path)
			} else {
				p = b.post(e.base+c.path, c.form)
			}
			if p.StatusCode != c.want {
				t.Errorf("%s: %s %s answered %d (%.120q), want %d", c.name, c.method, c.path, p.StatusCode, p.Body, c.want)
			}
		}
	})
}
