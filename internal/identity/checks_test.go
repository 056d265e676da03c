package identity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A developer's proposal changes the address only when the person confirms it from their own
// account, signed in recently: another signed-in account (the developer holding the link for
// a mailbox of theirs, say) is refused with Forbidden "other_account", and the person's own
// session older than auth.RecentSignIn with "reauthentication_required". Neither changes
// anything nor spends the link, which the person then uses once: its page then answers Gone.
func TestOnlyThePersonsRecentSignInConfirmsAProposal(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		ctx := context.Background()
		pat, dev := e.person(t), e.person(t)
		patBefore, err := e.s.User(ctx, pat)
		if err != nil {
			t.Fatal(err)
		}
		app := db.Application.Create().SetOwnerID(dev).SetName("Demo").SetSecretHash("h").SaveX(ctx)
		db.AppConnection.Create().SetUserID(pat).SetApplicationID(app.ID).SetAliasEmail("demo@relay.example.com").ExecX(ctx)
		before := e.smtp.Count()
		if _, err := e.s.RequestEmailChange(ctx, pat, "dev-mailbox@example.com",
			identity.EmailChangeRequester{ApplicationID: app.ID, ApplicationName: "Demo"}); err != nil {
			t.Fatal(err)
		}
		confirm := ""
		for _, m := range e.smtp.Wait(t, before+2)[before:] {
			if l := changeLinkRE.FindStringSubmatch(m.Text); l != nil && l[1] == "confirm" {
				confirm = l[2]
			}
		}
		now := e.s.Now()
		unchanged := func(what string) {
			t.Helper()
			if u, _ := e.s.User(ctx, pat); u.Email != patBefore.Email || u.EmailVersion != patBefore.EmailVersion {
				t.Fatalf("after %s the person's address is %s (v%d), want %s unchanged", what, u.Email, u.EmailVersion, patBefore.Email)
			}
		}

		asDev := auth.WithSession(ctx, auth.Session{UserID: dev, ID: "d", SignedInAt: now})
		if _, err := e.s.ConfirmEmailChange(asDev, confirm, ""); apperr.As(err) == nil || apperr.As(err).Name() != "other_account" ||
			!apperr.Is(err, apperr.Forbidden) {
			t.Errorf("another account confirming: %v, want Forbidden other_account", err)
		}
		unchanged("another account's confirmation")

		stale := auth.WithSession(ctx, auth.Session{UserID: pat, ID: "p-old", SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})
		if _, err := e.s.ConfirmEmailChange(stale, confirm, ""); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Errorf("the person confirming from a sign-in 16 minutes old: %v, want reauthentication_required", err)
		}
		unchanged("a confirmation from an old sign-in")

		fresh := auth.WithSession(ctx, auth.Session{UserID: pat, ID: "p", SignedInAt: now})
		if _, err := e.s.ConfirmEmailChange(fresh, confirm, ""); err != nil {
			t.Fatalf("the person's confirmation after the refused ones: %v", err)
		}
		if u, _ := e.s.User(ctx, pat); u.Email != "dev-mailbox@example.com" {
			t.Fatalf("after the person's confirmation the address is %s", u.Email)
		}
		// The link is spent: its page no longer describes the request.
		if ec, err := e.s.PendingEmailChange(fresh, confirm, false); !apperr.Is(err, apperr.Gone) {
			t.Errorf("the confirmation page of a confirmed request: %+v %v, want Gone", ec, err)
		}
	})
}
