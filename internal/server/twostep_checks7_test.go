package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"loginsign/internal/mfa"
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

// A sign-in waiting for its second step finishes only in the browser that used the link: its
// second_step cookie carried to another browser (a phished link's victim sends the page on) is
// refused (403) and signs nobody in. A session that signed in with the link alone before the
// person turned two-step verification on is one factor: an application asking for two
// (acr_values) with prompt=none gets login_required, not a code, and max_age=0 asks again too.
func TestTheSecondStepIsNotSkipped(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		dash := e.browser()
		conf := e.config(e.app, rpCallback)
		// One factor, consented before two-step verification is on.
		q := callback(t, dash.consent(dash.signIn(dash.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), defaultTestEmail), "allow", "alias"))
		if q.Get("code") == "" {
			t.Fatalf("first authorization: %v", q)
		}
		secret, _ := enrolTOTP(t, dash)

		for name, extra := range map[string][]oauth2.AuthCodeOption{
			"acr_values=mfa": {oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA)},
			"max_age=0":      {oauth2.SetAuthURLParam("max_age", "0")},
		} {
			opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")}, extra...)
			p := dash.get(conf.AuthCodeURL("s", opts...))
			if q := callback(t, p); q.Get("error") != "login_required" || q.Get("code") != "" {
				t.Errorf("prompt=none %s from the one-factor session: %v, want error=login_required", name, q)
			}
		}

		a, _ := e.secondStep(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oidc.Nonce("n")), defaultTestEmail)
		other := e.browser()
		other.get(e.base + "/login")
		base, _ := url.Parse(e.base)
		for _, ck := range a.Jar.Cookies(base) {
			if strings.Contains(ck.Name, "second_step") {
				other.Jar.SetCookies(base, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
			}
		}
		if p := other.post(e.base+"/login/verify", url.Values{"code": {totpCode(t, secret, time.Now().Add(30*time.Second))}}); p.StatusCode != http.StatusForbidden {
			t.Errorf("the second step finished in another browser: %d %s, want 403", p.StatusCode, p.Request.URL)
		}
		if data, _ := other.graphql(`{ viewer { id } }`, nil); data != nil && data["viewer"] != nil {
			t.Errorf("the other browser is signed in: %v", data)
		}
	})
}

// Removing a passkey ends the sessions it signed in, and what the applications were given from
// them: someone who added their own passkey (or holds the person's lost phone) and signed in to
// an app with it keeps neither the LoginSign session nor the app's refresh token. The access
// token ends with the refresh token's family (introspection says inactive). The person's own
// session, which removed it, stays.
func TestRemovingAPasskeyEndsTheTokensItsSessionsGave(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		person := e.browser()
		person.signInTo(defaultTestEmail)
		u := e.userByEmail(defaultTestEmail)
		thiefKey := e.addSoftKey(t, u.ID)
		thief := e.browser()
		body := e.passkeyTokens(t, thief, thiefKey)
		rt, _ := body["refresh_token"].(string)
		if rt == "" {
			t.Fatalf("the passkey sign-in gave no refresh token: %v", body)
		}
		var id string
		for _, k := range person.gql(`{ viewer { passkeys { id } } }`, nil)["viewer"].(map[string]any)["passkeys"].([]any) {
			id = k.(map[string]any)["id"].(string)
		}
		if code := person.gqlCode(`mutation($id: ID!, $c: String) { deletePasskey(input: {id: $id, code: $c}) { deletedId } }`, map[string]any{"id": id, "c": person.changeCode()}); code != "" {
			t.Fatalf("deletePasskey: %q", code)
		}
		if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); st == 200 {
			t.Errorf("the refresh token of the removed passkey's session still refreshes: %d %v", st, body)
		}
		if !person.signedIn() {
			t.Error("the person's own session ended")
		}
	})
}

// Bad input to the two-step and passkey mutations answers a client error code, never
// "internal": codes of every shape, a registration nobody started, a credential that is not
// one, names past the limit, ids of nothing.
func TestTwoStepAndPasskeyMutationsRefuseBadInputAsClientErrors(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		b := e.browser()
		b.signInTo(defaultTestEmail)
		long := strings.Repeat("9", 5000)
		for _, c := range []struct {
			name, query string
			vars        map[string]any
			want        string
		}{
			{"disable while off", `mutation($c: String!) { disableTwoStep(input: {code: $c}) { disabled } }`, map[string]any{"c": "123456"}, "invalid_request"},
			{"regenerate while off", `mutation($c: String!) { regenerateRecoveryCodes(input: {code: $c}) { recoveryCodes } }`, map[string]any{"c": "abcd-efgh-jkmn"}, "invalid_request"},
			{"confirm without an enrolment", `mutation($c: String!) { confirmTotpEnrolment(input: {code: $c}) { recoveryCodes } }`, map[string]any{"c": "123456"}, "gone"},
			{"a 5000-digit code", `mutation($c: String!) { disableTwoStep(input: {code: $c}) { disabled } }`, map[string]any{"c": long}, "invalid_request"},
			{"finish a registration nobody started", `mutation($c: String!) { finishPasskeyRegistration(input: {name: "K", credential: $c}) { passkey { id } } }`, map[string]any{"c": "{}"}, "gone"},
			{"rename nothing", `mutation { renamePasskey(input: {id: "pk_nothing", name: "x"}) { passkey { id } } }`, nil, "not_found"},
			// (with a valid mailed confirmation code: the id, not a missing code, is what refuses it)
			{"delete nothing", `mutation($id: ID!, $c: String) { deletePasskey(input: {id: $id, code: $c}) { deletedId } }`, map[string]any{"id": long, "c": b.changeCode()}, "not_found"},
		} {
			if got := b.gqlCode(c.query, c.vars); got != c.want {
				t.Errorf("%s: %q, want %q", c.name, got, c.want)
			}
		}
		for name, cred := range map[string]string{"not JSON": "x", "empty JSON": "{}", "an assertion instead": `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"AA","authenticatorData":"AA","signature":"AA"}}`} {
			b.gql(beginPasskeyMutation, nil)
			if got := b.gqlCode(`mutation($c: String!) { finishPasskeyRegistration(input: {name: "K", credential: $c}) { passkey { id } } }`, map[string]any{"c": cred}); got != "invalid_request" {
				t.Errorf("finishPasskeyRegistration with %s: %q, want invalid_request", name, got)
			}
		}
	})
}
