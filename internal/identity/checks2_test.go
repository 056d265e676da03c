package identity_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent/emailchange"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAProposalWhoseConnectionEndsDuringTheConfirmationIsGone: the connection of the
// application that proposed an address ends (its row gone, the request still pending) after
// the confirm link was read and before the change is written. The confirmation answers Gone,
// as for a superseded request, and the primary address stays: the proposal is asked again
// under the person's lock, not only when the link is read. The test's clock deletes the
// connection when the confirmation asks it the time after reading the link (the sign-in
// check).
func TestAProposalWhoseConnectionEndsDuringTheConfirmationIsGone(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		ctx := context.Background()
		pat, dev := e.person(t), e.person(t)
		before, err := e.s.User(ctx, pat)
		if err != nil {
			t.Fatal(err)
		}
		app := db.Application.Create().SetOwnerID(dev).SetName("Demo").SetSecretHash("h").SaveX(ctx)
		conn := db.AppConnection.Create().SetUserID(pat).SetApplicationID(app.ID).SetAliasEmail("demo@relay.example.com").SaveX(ctx)
		mails := e.smtp.Count()
		if _, err := e.s.RequestEmailChange(ctx, pat, "dev-mailbox@example.com",
			identity.EmailChangeRequester{ApplicationID: app.ID, ApplicationName: "Demo", ConnectionID: conn.ID}); err != nil {
			t.Fatal(err)
		}
		confirm := ""
		for _, m := range e.smtp.Wait(t, mails+2)[mails:] {
			if l := changeLinkRE.FindStringSubmatch(m.Text); l != nil && l[1] == "confirm" {
				confirm = l[2]
			}
		}
		fixed := e.s.Now()
		var calls atomic.Int32
		var deleted atomic.Bool
		e.s.Now = func() time.Time {
			// 1: the link's expiry is read; 2: the sign-in is checked, after the link's
			// request was found connected.
			if calls.Add(1) == 2 {
				db.AppConnection.DeleteOneID(conn.ID).ExecX(ctx)
				deleted.Store(true)
			}
			return fixed
		}
		as := auth.WithSession(ctx, auth.Session{UserID: pat, ID: "p", SignedInAt: fixed})
		_, err = e.s.ConfirmEmailChange(as, confirm, "")
		if !deleted.Load() {
			t.Fatal("the connection was not ended during the confirmation")
		}
		if !apperr.Is(err, apperr.Gone) {
			t.Errorf("confirming while the connection ended: %v, want gone", err)
		}
		if u, _ := e.s.User(ctx, pat); u.Email != before.Email || u.EmailVersion != before.EmailVersion {
			t.Errorf("the primary address is %s (v%d), want %s unchanged", u.Email, u.EmailVersion, before.Email)
		}
		if n := db.EmailChange.Query().Where(emailchange.StatusEQ(emailchange.StatusConfirmed)).CountX(ctx); n != 0 {
			t.Errorf("%d requests confirmed, want none", n)
		}
	})
}

// TestAProposalMadeBeforeThePersonChangedTheirPrimaryAddressFailsForGood: an application
// proposes an address; the person then makes another address their primary one from their
// dashboard. Confirming the older proposal answers Conflict primary_changed and changes
// nothing (the request was made against an address the account no longer has), and its link
// no longer works.
func TestAProposalMadeBeforeThePersonChangedTheirPrimaryAddressFailsForGood(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		ctx := context.Background()
		pat, dev := e.person(t), e.person(t)
		app := db.Application.Create().SetOwnerID(dev).SetName("Demo").SetSecretHash("h").SaveX(ctx)
		conn := db.AppConnection.Create().SetUserID(pat).SetApplicationID(app.ID).SetAliasEmail("demo@relay.example.com").SaveX(ctx)
		mails := e.smtp.Count()
		if _, err := e.s.RequestEmailChange(ctx, pat, "dev-mailbox@example.com",
			identity.EmailChangeRequester{ApplicationID: app.ID, ApplicationName: "Demo", ConnectionID: conn.ID}); err != nil {
			t.Fatal(err)
		}
		confirm := ""
		for _, m := range e.smtp.Wait(t, mails+2)[mails:] {
			if l := changeLinkRE.FindStringSubmatch(m.Text); l != nil && l[1] == "confirm" {
				confirm = l[2]
			}
		}
		if _, err := e.s.ChangePrimaryEmail(ctx, pat, "pat-second@example.com", webhooks.ReasonUserEmailChange, "", pat); err != nil {
			t.Fatalf("the person's own change of primary address: %v", err)
		}

		as := auth.WithSession(ctx, auth.Session{UserID: pat, ID: "p", SignedInAt: e.s.Now()})
		_, err := e.s.ConfirmEmailChange(as, confirm, "")
		if got := apperr.As(err); got == nil || !apperr.Is(err, apperr.Conflict) || got.Name() != "primary_changed" {
			t.Errorf("confirming a proposal made before the primary address changed: %v, want conflict primary_changed", err)
		}
		if u, _ := e.s.User(ctx, pat); u.Email != "pat-second@example.com" {
			t.Errorf("the primary address is %s, want pat-second@example.com (the person's choice)", u.Email)
		}
		if _, err := e.s.ConfirmEmailChange(as, confirm, ""); !apperr.Is(err, apperr.Gone) {
			t.Errorf("the link after the failed confirmation: %v, want gone", err)
		}
	})
}
