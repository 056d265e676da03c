package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestTheLoginHintIsTheAppsProposalAndNotOverTheSignedInAccount17: an application's
// login_hint (OpenID Connect Core §3.1.2.1) filled any address into the login page, one
// press away from sending a sign-in for it: over the account the person is signed in to
// (prompt=login with another account's address, which a site of its own makes any browser
// visit), and after the person signed out (the flow, begun in the shared computer's browser,
// kept the hint, out of the history when the request was pushed). Now the page fills the
// hint in only when nobody is signed in, or when it is the signed-in person's own address
// (re-authentication), and names it as the application's proposal; a hint that is not an
// address, or a flow from before a sign-out in the browser, fills in nothing.
func TestTheLoginHintIsTheAppsProposalAndNotOverTheSignedInAccount17(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const attacker, person = "mallory.hint@evil.example", "pat.hint@example.com"
		e.browser().signInTo(attacker)
		login := func(b *browser, hint string, prompt ...string) (page, string) {
			t.Helper()
			opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("login_hint", hint)}
			if len(prompt) > 0 {
				opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt[0]))
			}
			p := b.get(e.config(e.app, rpCallback).AuthCodeURL("st", opts...))
			flow := p.Request.URL.Query().Get("flow")
			if p.StatusCode != http.StatusOK || p.Request.URL.Path != "/login" || flow == "" {
				t.Fatalf("the authorization's login page = %d %s", p.StatusCode, p.Request.URL)
			}
			return p, flow
		}
		proposed := func(p page, hint string) bool {
			return strings.Contains(p.Body, `value="`+hint+`"`) && strings.Contains(p.Body, `id="login-hint"`) &&
				strings.Contains(p.Body, "<strong>Demo App</strong> suggested this address")
		}

		// Signed out: the hint is filled in, as the application's proposal.
		fresh := e.browser()
		if p, _ := login(fresh, person); !proposed(p, person) {
			t.Errorf("the login page of a signed-out browser does not propose the app's hint %s:\n%s", person, p.Body)
		}
		// Signed in as pat: the application's address of another account is not filled in.
		b := e.browser()
		b.signInTo(person)
		if p, _ := login(b, attacker, "login"); strings.Contains(p.Body, attacker) || !strings.Contains(p.Body, `name="email" value=""`) {
			t.Errorf("prompt=login with another account's login_hint fills it in over the signed-in account:\n%s", p.Body)
		}
		// The person's own address: re-authentication keeps the hint.
		p, flow := login(b, person, "login")
		if !proposed(p, person) {
			t.Errorf("prompt=login with the signed-in person's own login_hint does not fill it in:\n%s", p.Body)
		}
		// A hint that is not an address fills in nothing.
		if p, _ := login(fresh, "not an address"); strings.Contains(p.Body, "not an address") {
			t.Errorf("a login_hint that is not an address is filled in:\n%s", p.Body)
		}
		// After a sign-out, the flow the person began keeps its hint to itself.
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if q := b.post(e.base+"/logout", url.Values{}); q.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /logout = %d", q.StatusCode)
		}
		if q := b.get(e.base + "/login?" + url.Values{"flow": {flow}}.Encode()); q.StatusCode != http.StatusOK || strings.Contains(q.Body, person) {
			t.Errorf("the login page of a flow begun before the sign-out = %d, names %s:\n%s", q.StatusCode, person, q.Body)
		}
	})
}
