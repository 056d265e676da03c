package server

import (
	"context"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestAPasskeySignInDoesNotTakeAnotherBrowsersFlow: a passkey sign-in posted with the id of an
// authorization flow another browser started (learnt from a link or a log) signs the person in
// without that flow, as a mailed link does (startSignIn): they land on their dashboard, not on
// the flow's consent page or its client's callback.
func TestAPasskeySignInDoesNotTakeAnotherBrowsersFlow(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		u, _, err := e.srv.identity.EnsureUser(context.Background(), defaultTestEmail)
		if err != nil {
			t.Fatal(err)
		}
		sk := e.addSoftKey(t, u.ID)
		other := e.browser()
		flow := other.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))).hidden(t, "flow")

		b := e.browser()
		b.get(e.base + "/login")
		opts := b.get(e.base + "/login/passkey")
		if opts.StatusCode != 200 {
			t.Fatalf("passkey options: %d %s", opts.StatusCode, opts.Body)
		}
		p := b.post(e.base+"/login/passkey", url.Values{"flow": {flow}, "credential": {sk.assert(t, opts.Body)}})
		if p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("a passkey sign-in posted with another browser's flow: %d at %s, want the dashboard (signed in without the flow)",
				p.StatusCode, p.Request.URL)
		}
	})
}
