package oauth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/oauth"
)

// A thief's browser that signed in to the account once (or holds a copy of the person's
// cookies) was known to it for 90 days, whatever the person did: after "sign out everywhere
// else" it still opened the "this wasn't me" link of the authenticator app the person then set
// up (mfa.Service.UndoTOTP, which works only in a known browser) and still had its own budget
// of second-step codes. Signing out everywhere forgets every browser, as it forgets the
// trusted devices at Google or GitHub; so does the undo link's ending of every session
// (EndAllSessions), and ending one session forgets the browser it was in.
func TestSigningOutEverywhereForgetsKnownBrowsers(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := context.Background()
		known := func(browser, userID string) bool {
			t.Helper()
			ok, err := e.svc.KnownBrowser(ctx, browser, userID)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		start := func(userID string) auth.Session {
			t.Helper()
			raw, err := e.svc.Identity.Sessions.Start(ctx, identity.NewSession{UserID: userID, UserAgent: "agent", IP: "192.0.2.1"})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}
		thief := "lsbr_" + strings.Repeat("t", 40)

		u := e.person(t)
		other := e.person(t)
		for _, who := range []string{u.ID, other.ID} {
			usr, err := e.svc.Identity.User(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.RememberBrowser(ctx, thief, usr); err != nil {
				t.Fatal(err)
			}
		}
		if !known(thief, u.ID) {
			t.Fatal("a browser that signed in is not known")
		}
		mine := start(u.ID)
		if _, err := e.svc.Identity.SignOutOtherSessions(auth.WithSession(ctx, mine)); err != nil {
			t.Fatal(err)
		}
		if known(thief, u.ID) {
			t.Fatal("after the person signed out everywhere else, the thief's browser is still known to the account")
		}
		if !known(thief, other.ID) {
			t.Fatal("another person's signing out everywhere forgot the browser for this one")
		}
		// Signing in again makes it known again.
		if err := e.svc.RememberBrowser(ctx, thief, u); err != nil {
			t.Fatal(err)
		}
		if !known(thief, u.ID) {
			t.Fatal("a browser that signed in again after the sign-out everywhere is not known")
		}
		// The undo link of a new authenticator app ends every session (EndAllSessions).
		if err := e.svc.Identity.EndAllSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if known(thief, u.ID) {
			t.Fatal("after every session of the account ended, the thief's browser is still known to it")
		}
	})
}

// The budget of sign-in mails of its own that a browser which signed in to the account gets
// (strangers' requests never lock it out) is forgotten too when the person signs out
// everywhere: the thief's browser then shares the mailbox's budget with every other stranger.
func TestSigningOutEverywhereForgetsTheBrowsersMailBudget(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		e.svc.Mail = &outbox{}
		ctx := e.ctx()
		u := e.person(t)
		thief := "lsbr_" + strings.Repeat("x", 40)
		if err := e.svc.RememberBrowser(ctx, thief, u); err != nil {
			t.Fatal(err)
		}
		for i := range e.svc.Config.Limits.LoginPerAddress.N {
			stranger := fmt.Sprintf("lsbr_%040d", i)
			if _, err := e.svc.StartSignIn(ctx, u.Email, "", fmt.Sprintf("198.51.100.%d", i+1), stranger, ""); err != nil {
				t.Fatalf("stranger %d: %v", i+1, err)
			}
		}
		if _, err := e.svc.StartSignIn(ctx, u.Email, "", "192.0.2.7", thief, ""); err != nil {
			t.Fatalf("the known browser past the strangers' cap: %v, want its own budget", err)
		}
		raw, err := e.svc.Identity.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "agent", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Identity.SignOutOtherSessions(auth.WithSession(ctx, sess)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.StartSignIn(ctx, u.Email, "", "192.0.2.8", thief, ""); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("the thief's browser after the person signed out everywhere: %v, want the strangers' spent budget (rate limited)", err)
		}
	})
}
