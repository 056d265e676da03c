package server

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/passkey/passkeytest"
)

// An authorization in progress belongs to the browser that started it. Someone who learnt
// its id (a pasted login address, a shared screen) and signs in with it from another browser,
// by passkey or by mail, signs in without it: before, the sign-in took the flow over, the
// consent page came up for the victim's app, and the code it issued, under the victim's state
// and PKCE challenge, logged the victim's app session in as the attacker.
func TestASignInTakesOnlyItsOwnBrowsersAuthorization(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		victim := e.browser()
		login := victim.get(e.config(e.app, rpCallback).AuthCodeURL("victims-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		flowID := login.hidden(t, "flow")
		if flowID == "" {
			t.Fatalf("no flow on the login page %s", login.Request.URL)
		}

		// By mail: the attacker's own address, the victim's flow.
		byMail := e.browser()
		p := byMail.signIn(byMail.get(e.base+"/login?flow="+url.QueryEscape(flowID)), "mallory@example.com")
		if p.Request.URL.Path == "/oauth/consent" || strings.Contains(p.Body, `value="allow"`) {
			t.Errorf("a mail sign-in with another browser's flow reached its consent page: %s", p.Request.URL)
		}

		// By passkey: the attacker's own passkey, the victim's flow.
		dev := passkeytest.New(t, false)
		opts := byMail.gql(`mutation { beginPasskeyRegistration(input: {}) { options } }`, nil)["beginPasskeyRegistration"].(map[string]any)["options"].(string)
		byMail.gql(`mutation($c: String!, $code: String) { finishPasskeyRegistration(input: {name: "Key", credential: $c, code: $code}) { passkey { id } } }`,
			map[string]any{"c": dev.Register(t, opts, e.base, 0), "code": byMail.changeCode()})
		byKey := e.browser()
		byKey.get(e.base + "/login")
		o := byKey.get(e.base + "/login/passkey")
		p = byKey.post(e.base+"/login/passkey", url.Values{"flow": {flowID}, "credential": {dev.Login(t, o.Body, e.base, 1)}})
		if p.Request.URL.Path == "/oauth/consent" || strings.Contains(p.Body, `value="allow"`) {
			t.Errorf("a passkey sign-in with another browser's flow reached its consent page: %s", p.Request.URL)
		}
		if p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Errorf("the passkey sign-in without the flow: %d %s, want the dashboard", p.StatusCode, p.Request.URL)
		}

		// The victim's own sign-in still finishes the authorization.
		p = victim.signIn(login, "victim@example.com")
		if p.Request.URL.Path != "/oauth/consent" {
			t.Fatalf("the victim's sign-in: %d %s, want the consent page", p.StatusCode, p.Request.URL)
		}
		if q := callback(t, victim.consent(p, "allow", "")); q.Get("state") != "victims-state" || q.Get("code") == "" {
			t.Errorf("the victim's authorization answered %v", q)
		}
	})
}

// Views of the login page (each asks for passkey options, for the browser's autofill) have a
// budget of their own: sixty of them from one address (an office behind one NAT) no longer
// spend the passkey sign-ins' budget and turn passkeys off for everyone there.
func TestLoginPageViewsLeavePasskeySignInsTheirBudget(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		owner := e.browser()
		owner.signInTo("pat@example.com")
		dev := passkeytest.New(t, false)
		opts := owner.gql(`mutation { beginPasskeyRegistration(input: {}) { options } }`, nil)["beginPasskeyRegistration"].(map[string]any)["options"].(string)
		owner.gql(`mutation($c: String!, $code: String) { finishPasskeyRegistration(input: {name: "Key", credential: $c, code: $code}) { passkey { id } } }`,
			map[string]any{"c": dev.Register(t, opts, e.base, 0), "code": owner.changeCode()})
		office := e.browser()
		for i := range 60 {
			if p := office.get(e.base + "/login/passkey"); p.StatusCode != 200 {
				t.Fatalf("login page view %d: %d", i, p.StatusCode)
			}
		}
		b := e.browser()
		o := b.get(e.base + "/login/passkey")
		if o.StatusCode != 200 {
			t.Fatalf("the 61st view from the address: %d, want the options", o.StatusCode)
		}
		if p := b.post(e.base+"/login/passkey", url.Values{"credential": {dev.Login(t, o.Body, e.base, 1)}}); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Errorf("a passkey sign-in after 60 views from the address: %d %s, want the dashboard", p.StatusCode, p.Request.URL)
		}
	})
}
