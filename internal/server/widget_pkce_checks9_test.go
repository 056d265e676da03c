package server

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// embedFieldRe finds the hidden fields of /embed/login's form (names with underscores).
var embedFieldRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// TestAWidgetSignInWithACodeChallengeNeedsItsVerifierAndCarriesItsNonce: an app that signs
// people in through the login page widget (/embed/login) with its PKCE challenge and nonce gets
// codes bound to them, whichever way the embed continues: the form of a signed-out visitor
// and the "Continue as" link of a signed-in one. Such a code exchanged with another verifier,
// or with none, is invalid_grant (RFC 7636 §4.6); with the app's verifier it gives an id_token
// carrying the app's nonce, and the app's state comes back unchanged.
func TestAWidgetSignInWithACodeChallengeNeedsItsVerifierAndCarriesItsNonce(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		embed := func(verifier, nonce string) page {
			t.Helper()
			p := b.get(e.base + "/embed/login?" + url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback},
				"state": {"st-widget"}, "nonce": {nonce},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}.Encode())
			if p.StatusCode != http.StatusOK {
				t.Fatalf("GET /embed/login: %d\n%s", p.StatusCode, p.Body)
			}
			return p
		}
		exchange := func(code, verifier string) (int, map[string]any, http.Header) {
			t.Helper()
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}}
			if verifier != "" {
				form.Set("code_verifier", verifier)
			}
			return e.tokenRequest(e.app, form)
		}
		codeOf := func(p page) string {
			t.Helper()
			q := callback(t, p)
			if q.Get("code") == "" || q.Get("state") != "st-widget" {
				t.Fatalf("callback %v, want a code and state st-widget", q)
			}
			return q.Get("code")
		}

		// Signed out: the embed's form, submitted (a GET in the top window) with the address.
		p := embed(oauth2.GenerateVerifier(), "n-form")
		form := url.Values{"login_hint": {defaultTestEmail}}
		for _, m := range embedFieldRe.FindAllStringSubmatch(p.Body, -1) {
			form.Add(m[1], html.UnescapeString(m[2]))
		}
		p = b.signIn(b.get(e.base+"/oauth/authorize?"+form.Encode()), defaultTestEmail)
		if p.StatusCode == http.StatusOK {
			p = b.consent(p, "allow", "")
		}
		st, body, hdr := exchange(codeOf(p), oauth2.GenerateVerifier())
		wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_grant")
		// Refused for the mismatch, not because the code has no challenge.
		if d, _ := body["error_description"].(string); !strings.Contains(d, "does not match the code_challenge") {
			t.Errorf("a widget code exchanged with another verifier: %q, want the mismatch", d)
		}

		// Signed in and linked: the embed's "Continue as" link.
		continued := func(verifier, nonce string) string {
			t.Helper()
			m := continueRe.FindStringSubmatch(embed(verifier, nonce).Body)
			if m == nil {
				t.Fatalf("the embed of a signed-in person has no Continue link")
			}
			return codeOf(b.get(e.base + html.UnescapeString(m[1])))
		}
		st, body, hdr = exchange(continued(oauth2.GenerateVerifier(), "n-link"), "")
		wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_grant")

		verifier := oauth2.GenerateVerifier()
		st, body, _ = exchange(continued(verifier, "n-right"), verifier)
		if st != http.StatusOK {
			t.Fatalf("exchange with the app's verifier: %d %v", st, body)
		}
		if got := idTokenClaims(t, body["id_token"])["nonce"]; got != "n-right" {
			t.Errorf("the id_token of a widget sign-in has nonce %v, want the app's n-right", got)
		}
	})
}

// TestTheEmbeddedSignInRefusesWhatTheAuthorizeEndpointRefuses: /embed/login checks the
// authorization request it builds as /oauth/authorize does. A PKCE challenge or nonce that
// endpoint would refuse (a challenge that is not 43 base64url characters, the plain method, a
// challenge without S256 or S256 without a challenge, a repeated or oversized value) is the
// widget's error page: 400, naming what is wrong, in the widget's language, framable by
// nobody, and offering no sign-in.
func TestTheEmbeddedSignInRefusesWhatTheAuthorizeEndpointRefuses(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		for _, c := range []struct {
			name  string
			extra url.Values
			want  string
		}{
			{"a 10-character challenge", url.Values{"code_challenge": {"abcdefghij"}, "code_challenge_method": {"S256"}},
				"code_challenge must be 43 base64url characters"},
			{"a challenge of 43 characters outside base64url", url.Values{"code_challenge": {strings.Repeat("+", 43)}, "code_challenge_method": {"S256"}},
				"code_challenge must be 43 base64url characters"},
			{"an oversized challenge", url.Values{"code_challenge": {strings.Repeat("a", 129)}, "code_challenge_method": {"S256"}},
				"code_challenge is longer than 128 characters"},
			{"the plain method", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"plain"}},
				"code_challenge_method plain is not allowed"},
			{"another method", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S512"}},
				"code_challenge_method must be S256"},
			{"a challenge without its method", url.Values{"code_challenge": {challenge}},
				"code_challenge_method=S256 is required with code_challenge"},
			{"S256 without a challenge", url.Values{"code_challenge_method": {"S256"}},
				"code_challenge is required with code_challenge_method"},
			{"a repeated challenge", url.Values{"code_challenge": {challenge, challenge}, "code_challenge_method": {"S256"}},
				"code_challenge must not be repeated"},
			{"a repeated nonce", url.Values{"nonce": {"a", "b"}}, "nonce must not be repeated"},
			{"an oversized nonce", url.Values{"nonce": {strings.Repeat("n", 1025)}}, "nonce is longer than 1024 characters"},
			{"in French", url.Values{"code_challenge": {"abcdefghij"}, "code_challenge_method": {"S256"}, "ui_locales": {"fr"}},
				"Cette demande de connexion n&#39;est pas valide : code_challenge must be 43 base64url characters"},
		} {
			q := url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "state": {"s"}}
			for k, v := range c.extra {
				q[k] = v
			}
			p := b.get(e.base + "/embed/login?" + q.Encode())
			_, ancestors, _ := strings.Cut(p.Header.Get("Content-Security-Policy"), "frame-ancestors ")
			if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, c.want) || ancestors != "'none'" ||
				strings.Contains(p.Body, "/oauth/authorize") {
				t.Errorf("%s: %d, frame-ancestors %q, want 400 naming %q, framable by nobody, without a sign-in:\n%s",
					c.name, p.StatusCode, ancestors, c.want, p.Body)
			}
		}
	})
}
