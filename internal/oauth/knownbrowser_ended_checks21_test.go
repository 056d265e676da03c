package oauth_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/oauth"
)

// Ending one session from elsewhere forgot its browser for the second step's codes
// (identity.Sessions.KnownBrowser) but not for the sign-in mails: the budget's record
// (oauth's, which carries the account's generation of browsers) stayed valid, since only
// ending every session moves the generation on, so the ended browser kept a budget of sign-in
// mails of its own for 90 days. It goes with the browser.
func TestEndingOneSessionForgetsItsBrowsersMailBudget21(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := context.Background()
		u := e.person(t)
		usr, err := e.svc.Identity.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		start := func(browser string) auth.Session {
			t.Helper()
			if err := e.svc.RememberBrowser(ctx, browser, usr); err != nil {
				t.Fatal(err)
			}
			raw, err := e.svc.Identity.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "agent", IP: "192.0.2.1", Browser: browser})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}
		thiefB := "lsbr_" + strings.Repeat("t", 40)
		mine := start("lsbr_" + strings.Repeat("m", 40))
		thief := start(thiefB)
		budget := oauth.KnownBrowserKey(thiefB, usr.Email)
		if n, err := e.svc.KV.Exists(ctx, budget).Result(); err != nil || n != 1 {
			t.Fatalf("the browser's mail budget record after its sign-in: %d, %v", n, err)
		}
		if err := e.svc.Identity.SignOutSession(auth.WithSession(ctx, mine), thief.ID); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.svc.KnownBrowser(ctx, thiefB, u.ID); err != nil || ok {
			t.Fatalf("the ended session's browser is still known (%v, %v)", ok, err)
		}
		if n, err := e.svc.KV.Exists(ctx, budget).Result(); err != nil || n != 0 {
			t.Fatalf("the ended session's browser keeps its own budget of sign-in mails to the address (record %d, %v)", n, err)
		}
	})
}
