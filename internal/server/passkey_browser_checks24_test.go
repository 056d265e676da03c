package server

import (
	"context"
	"net/url"
	"testing"
)

// TestAPasskeyAssertionSignsInOnlyInTheBrowserThatAskedForIt: the challenge of a passkey
// sign-in is the browser's that asked for the options. An assertion taken from the person's
// browser (a log, a proxy in the middle, another page's script) and sent from another browser
// is refused there and leaves it signed out; it does not spend the person's challenge, and the
// person's own browser still signs in with it. Before, the challenge was anyone's: the
// assertion signed in whichever browser sent it first.
func TestAPasskeyAssertionSignsInOnlyInTheBrowserThatAskedForIt(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		u, _, err := e.srv.identity.EnsureUser(context.Background(), defaultTestEmail)
		if err != nil {
			t.Fatal(err)
		}
		sk := e.addSoftKey(t, u.ID)
		person := e.browser()
		person.get(e.base + "/login")
		opts := person.get(e.base + "/login/passkey")
		if opts.StatusCode != 200 {
			t.Fatalf("passkey options: %d %s", opts.StatusCode, opts.Body)
		}
		cred := sk.assert(t, opts.Body)

		relay := e.browser()
		relay.get(e.base + "/login")
		if p := relay.post(e.base+"/login/passkey", url.Values{"credential": {cred}}); p.StatusCode < 400 || p.StatusCode >= 500 {
			t.Errorf("another browser's assertion: %d at %s, want a 4xx", p.StatusCode, p.Request.URL.Path)
		}
		if relay.signedIn() {
			t.Error("another browser's assertion signed the relay in")
		}
		if p := person.post(e.base+"/login/passkey", url.Values{"credential": {cred}}); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("the person's own browser: %d at %s, want the dashboard", p.StatusCode, p.Request.URL.Path)
		}
	})
}
