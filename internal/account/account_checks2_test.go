package account_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/ent/useremail"
	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAccountChangesNeedARecentSignIn: adding, removing or promoting an address and closing
// the account with a session whose sign-in is older than auth.RecentSignIn answer
// reauthentication_required and change nothing: a session cookie taken from a browser is not
// enough to move the account to another mailbox or to close it.
func TestAccountChangesNeedARecentSignIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		backup := e.addAndVerify(e.person, "backup@example.org")
		mails := e.smtp.Count()
		stale := auth.WithSession(ctx, auth.Session{UserID: e.person.ID, ID: "s", SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})

		_, err := e.svc.AddAlternativeEmail(stale, "thief@example.net", "")
		wantCode(t, err, apperr.Unauthorized, "reauthentication_required")
		if n := db.UserEmail.Query().Where(useremail.Email("thief@example.net")).CountX(ctx); n != 0 {
			t.Errorf("an addition with an old sign-in stored %d addresses", n)
		}
		if n := e.smtp.Count(); n != mails {
			t.Errorf("an addition with an old sign-in mailed %d messages", n-mails)
		}
		wantCode(t, e.svc.RemoveAlternativeEmail(stale, backup.ID, ""), apperr.Unauthorized, "reauthentication_required")
		if _, err := db.UserEmail.Get(ctx, backup.ID); err != nil {
			t.Errorf("the address after a removal with an old sign-in: %v", err)
		}
		_, err = e.svc.MakePrimaryEmail(stale, backup.ID, "")
		wantCode(t, err, apperr.Unauthorized, "reauthentication_required")
		_, err = e.svc.DeleteAccount(stale, e.person.GlobalID, "")
		wantCode(t, err, apperr.Unauthorized, "reauthentication_required")
		u, err := db.User.Get(ctx, e.person.ID)
		if err != nil || u.Email != "person@example.com" {
			t.Errorf("after the refused changes the account is %+v, %v; want it with person@example.com", u, err)
		}
	})
}

// TestAPersonSeesAndRefusesOnlyTheirOwnPendingLinks: another person asking for someone's
// pending links is told not found, and refusing a link to someone else's address is told not
// found and leaves it open for its holder.
func TestAPersonSeesAndRefusesOnlyTheirOwnPendingLinks(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		crm := e.app("crm")
		devs := e.proposeLink(crm, "dev@example.com")

		if links, err := e.svc.PendingLinks(as(e.person), e.dev.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another person listing the pending links: %d links, %v; want not found", len(links), err)
		}
		wantCode(t, e.svc.RefusePendingLink(as(e.person), devs.ID), apperr.NotFound, "")
		e.wantPendingLinks(t, e.dev, devs)
	})
}

// TestAClosingRefusedForOwnedApplicationsSignsOutNobody: a person who still owns an
// application is refused the closing of their account (owns_applications) before anything
// happens: their sessions stay, so the refusal does not sign them out everywhere.
func TestAClosingRefusedForOwnedApplicationsSignsOutNobody(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.app("crm")
		raw, err := e.identity.Sessions.Create(ctx, e.dev.ID, "laptop", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.DeleteAccount(as(e.dev), e.dev.GlobalID, "")
		wantCode(t, err, apperr.Conflict, "owns_applications")
		if _, err := e.identity.Sessions.Lookup(ctx, raw); err != nil {
			t.Errorf("the owner's session after the refused closing: %v, want it still signed in", err)
		}
	})
}

// TestAPersonHoldsAtMostMaxAlternativeEmails: with MaxAlternativeEmails addresses linked
// already, adding one more answers too_many_emails, stores nothing and mails nothing.
func TestAPersonHoldsAtMostMaxAlternativeEmails(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		for i := range account.MaxAlternativeEmails {
			db.UserEmail.Create().SetUserID(e.person.ID).SetEmail(fmt.Sprintf("alt-%d@example.org", i)).ExecX(ctx)
		}
		_, err := e.svc.AddAlternativeEmail(as(e.person), "one-more@example.org", "")
		wantCode(t, err, apperr.Conflict, "too_many_emails")
		if n := db.UserEmail.Query().Where(useremail.UserID(e.person.ID)).CountX(ctx); n != account.MaxAlternativeEmails {
			t.Errorf("%d addresses linked, want %d", n, account.MaxAlternativeEmails)
		}
		if n := e.smtp.Count(); n != 0 {
			t.Errorf("%d verification mails sent, want none", n)
		}
	})
}
