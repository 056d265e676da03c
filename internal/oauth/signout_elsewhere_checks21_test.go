package oauth_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/oauth"
)

// "Sign out everywhere else" from more than SignOutNotes.N browsers noted the sign-out in the
// first SignOutNotes.N of them, one note each against the account's daily cap, and so spent
// it: every session the person ended from elsewhere later that day, and every sign-out, noted
// nothing, and the address stayed whole on the pages of those browsers' sign-in links. One
// ending counts once against the cap, whatever the number of its browsers.
func TestOneSignOutEverywhereDoesNotSpendTheDaysNotes21(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := context.Background()
		e.svc.Identity.BrowsersSignedOut = e.svc.SignedOutElsewhere
		noted := func(browser string) bool {
			t.Helper()
			n, err := e.svc.KV.Exists(ctx, kv.CounterPrefix+"brout:"+ids.Hash(browser)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		cookie := func(name string) string { return "lsbr_" + fmt.Sprintf("%-40s", name) }
		u := e.person(t)
		start := func(browser string) auth.Session {
			t.Helper()
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
		mine := auth.WithSession(ctx, start(cookie("mine")))
		many := oauth.SignOutNotes.N + 10
		for i := range many {
			start(cookie(fmt.Sprint(i)))
		}
		if _, err := e.svc.Identity.SignOutOtherSessions(mine); err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range many {
			if noted(cookie(fmt.Sprint(i))) {
				n++
			}
		}
		if n != oauth.SignOutNotes.N {
			t.Fatalf("signing out everywhere else from %d browsers noted %d, want %d", many, n, oauth.SignOutNotes.N)
		}
		// Later that day the person ends a session from elsewhere again.
		shared := start(cookie("shared"))
		if err := e.svc.Identity.SignOutSession(mine, shared.ID); err != nil {
			t.Fatal(err)
		}
		if !noted(cookie("shared")) {
			t.Fatal("after one sign-out everywhere else from many browsers, ending a session from elsewhere noted no sign-out in its browser: the day's notes were spent")
		}
		if err := e.svc.BrowserSignedOut(mine, cookie("mine")); err != nil {
			t.Fatal(err)
		}
		if !noted(cookie("mine")) {
			t.Fatal("the person's own sign-out was not noted")
		}
	})
}
