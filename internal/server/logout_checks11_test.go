package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAnIDTokenOfAnEarlierSessionAsksBeforeSigningOut: an application keeps the id_tokens of
// every sign-in of the person's (expired ones are still valid hints, RP-Initiated Logout §2),
// and sending one to the end-session endpoint signed the person out of LoginSign at once,
// ending the tokens other applications got from the session too, whenever the application
// liked (a top-level navigation is enough). A hint issued during an earlier session does not
// belong to the current one, and the OP MUST ask then: the person is shown the confirmation
// page and stays signed in; a hint of this session still signs out at once.
func TestAnIDTokenOfAnEarlierSessionAsksBeforeSigningOut(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		signedIn := func() bool { return strings.Contains(b.get(e.base+"/logout").Body, "Signed in as") }
		logout := func(hint string) page {
			return b.get(e.base + "/oauth/logout?" + url.Values{"id_token_hint": {hint}}.Encode())
		}

		old := e.signInIDToken(b, e.app, "n-1")
		if p := logout(old); p.StatusCode != http.StatusOK || strings.Contains(p.Body, `name="confirm"`) || signedIn() {
			t.Fatalf("the hint of the session itself: %d, signed in %v; want signed out at once", p.StatusCode, signedIn())
		}
		time.Sleep(1100 * time.Millisecond) // id_tokens say their time to the second
		fresh := e.signInIDToken(b, e.app, "n-2")
		if !signedIn() {
			t.Fatal("not signed in again")
		}

		p := logout(old)
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `name="confirm"`) {
			t.Errorf("the hint of an earlier session: %d, want the confirmation page", p.StatusCode)
		}
		if !signedIn() {
			t.Fatal("an id_token of an earlier session signed the person out without asking")
		}
		if p := logout(fresh); p.StatusCode != http.StatusOK || strings.Contains(p.Body, `name="confirm"`) || signedIn() {
			t.Fatalf("the hint of this session: %d, signed in %v; want signed out at once", p.StatusCode, signedIn())
		}
	})
}
