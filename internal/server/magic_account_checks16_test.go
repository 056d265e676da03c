package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/oauth"
)

// TestALinkOpenedInTheBrowserThatAskedSaysWhoseAccountItOpens: login CSRF through the
// authorization's login_hint. A site sends the person's browser (signed in as pat) to an
// authorization of its own app with its own address as login_hint (prompt=login): the login page fills it
// in, and one press on Continue leaves the person's browser waiting for a sign-in to the
// site's account. The site's link, opened in that browser (the one that asked), showed only
// "Press the button to finish signing in": the page must name whose account it opens and that
// it replaces pat's session, as it does for a link opened in any other browser
// (TestAForwardedSignInLinkSaysWhoseAccountItOpens). A person's own link names their own
// account and warns of nothing.
func TestALinkOpenedInTheBrowserThatAskedSaysWhoseAccountItOpens(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const attacker, victim = "mallory@evil.example", "pat@example.com"
		e.browser().signInTo(attacker)
		person := e.browser()
		person.signInTo(victim)

		p := person.get(e.config(e.app, rpCallback).AuthCodeURL("st", oauth2.SetAuthURLParam("login_hint", attacker), oauth2.SetAuthURLParam("prompt", "login")))
		flow := p.Request.URL.Query().Get("flow")
		// Since stop 65 the page no longer fills the site's address in over the signed-in
		// account (oauth.Service.LoginHint); the person who types it gets the same link.
		if p.StatusCode != http.StatusOK || flow == "" || strings.Contains(p.Body, `value="`+attacker+`"`) {
			t.Fatalf("the login page of the site's authorization = %d %s", p.StatusCode, p.Request.URL)
		}
		if p := person.post(e.base+"/login", url.Values{"email": {attacker}, "flow": {flow}}); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "Check your email") {
			t.Fatalf("POST /login = %d %s", p.StatusCode, p.Body)
		}
		m := person.get(e.magicLink(attacker))
		if m.StatusCode != http.StatusOK || !strings.Contains(m.Body, `id="link-account"`) || !strings.Contains(m.Body, oauth.MaskEmail(attacker)) ||
			!strings.Contains(m.Body, victim) {
			t.Errorf("the site's link in the browser that asked for it does not say whose account it opens, nor that it replaces %s's session:\n%s", victim, m.Body)
		}

		own := e.browser()
		const ann = "ann.own@example.com"
		if p := own.post(e.base+"/login", url.Values{"email": {ann}}); p.StatusCode != http.StatusOK {
			t.Fatalf("POST /login = %d", p.StatusCode)
		}
		m = own.get(e.magicLink(ann))
		if m.StatusCode != http.StatusOK || !strings.Contains(m.Body, oauth.MaskEmail(ann)) || strings.Contains(m.Body, "replaces that session") {
			t.Errorf("the person's own link:\n%s", m.Body)
		}
		if p := own.post(e.base+"/login/magic", url.Values{"token": {m.hidden(t, "token")}}); p.StatusCode != http.StatusOK || p.Request.URL.Path != "/dashboard" {
			t.Errorf("the person's own link signs in = %d %s", p.StatusCode, p.Request.URL)
		}
	})
}
