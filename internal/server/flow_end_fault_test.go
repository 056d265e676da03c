package server

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/kv/kvtest"
)

// An authorization whose flow cannot be ended when the consent is answered is not answered:
// the page shows the error, and the same form posted again ends the flow and sends the code.
// Before, the code went to the app while the flow lived on, and the same form posted again
// (a reload, another tab of the browser) answered the request with a second code.
func TestAFlowThatCannotEndIsNotAnswered(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		f := kvtest.InjectFaults(t, e.srv.kv)
		b := e.browser()
		u := e.config(e.app, rpCallback).AuthCodeURL("st-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		consent := b.signIn(b.get(u), defaultTestEmail)

		f.Arm("del", "flow:", 1)
		failed := b.consent(consent, "allow", "")
		if f.Injected() != 1 {
			t.Fatalf("the fault was injected %d times, want 1", f.Injected())
		}
		f.Disarm()
		if failed.StatusCode < 500 || failed.Header.Get("Location") != "" {
			t.Fatalf("allowing while the flow cannot end answered %d, Location %q; want an error page and no code",
				failed.StatusCode, failed.Header.Get("Location"))
		}

		if q := callback(t, b.consent(consent, "allow", "")); q.Get("code") == "" || q.Get("state") != "st-1" {
			t.Fatalf("the same form again: %v, want a code and the state", q)
		}
		again := b.consent(consent, "allow", "")
		if again.StatusCode == http.StatusSeeOther || again.Header.Get("Location") != "" {
			t.Fatalf("the form of an answered flow posted once more answered %d to %q, want no second answer",
				again.StatusCode, again.Header.Get("Location"))
		}
	})
}
