package oauth_test

import (
	"fmt"
	"strings"
	"testing"

	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/oauth"
)

// TestClosingTheAccountForgetsTheBrowsersMailBudget: a browser that signed in to an account
// gets a budget of sign-in mails and 6-digit codes of its own for the account's address
// (strangers' requests never lock it out). Closing the account forgets it, as signing out
// everywhere does: before, a thief's browser that signed in once (or a copy of the person's
// cookies) kept that budget for 90 days after the account closed, on top of the strangers'
// one, against the mailbox of whoever signed up with the address next.
func TestClosingTheAccountForgetsTheBrowsersMailBudget(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		e.svc.Mail = &outbox{}
		ctx := e.ctx()
		u := e.person(t)
		thief := "lsbr_" + strings.Repeat("c", 40)
		if err := e.svc.RememberBrowser(ctx, thief, u); err != nil {
			t.Fatal(err)
		}
		accounts := &account.Service{DB: e.db, KV: e.kv, Identity: e.svc.Identity, Now: e.clock.Now}
		closing := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "closing", SignedInAt: e.clock.Now()})
		if _, err := accounts.DeleteAccount(closing, u.GlobalID, ""); err != nil {
			t.Fatal(err)
		}
		// Someone signs up with the address again.
		if _, err := e.svc.Identity.CreateUser(ctx, u.Email, ""); err != nil {
			t.Fatal(err)
		}
		for i := range e.svc.Config.Limits.LoginPerAddress.N {
			stranger := fmt.Sprintf("lsbr_%040d", i)
			if _, err := e.svc.StartSignIn(ctx, u.Email, "", fmt.Sprintf("198.51.100.%d", i+1), stranger, ""); err != nil {
				t.Fatalf("stranger %d: %v", i+1, err)
			}
		}
		if _, err := e.svc.StartSignIn(ctx, u.Email, "", "192.0.2.9", thief, ""); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a browser of the closed account past the strangers' cap: %v, want the strangers' spent budget (rate limited)", err)
		}
	})
}
