package account_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestRefusingAPendingLinkNeedsARecentSignIn: a refusal is for good (the application's later
// imports of the address cannot revive it), so a session whose sign-in is older than
// auth.RecentSignIn (a copied cookie) is answered reauthentication_required, and the link stays
// open for the person, with no event in their log. The same person signed in again refuses it.
func TestRefusingAPendingLinkNeedsARecentSignIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		link := e.proposeLink(e.app("crm"), "person@example.com")
		stale := auth.WithSession(ctx, auth.Session{UserID: e.person.ID, ID: "s", SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})

		wantCode(t, e.svc.RefusePendingLink(stale, link.ID), apperr.Unauthorized, "reauthentication_required")
		if l := db.PendingLink.GetX(ctx, link.ID); l.RefusedAt != nil {
			t.Fatalf("a refusal from a session signed in %v ago stored the link refused at %v", auth.RecentSignIn+time.Minute, l.RefusedAt)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.UserID(e.person.ID)).CountX(ctx); n != 0 {
			t.Errorf("the refused refusal recorded %d events", n)
		}
		e.wantPendingLinks(t, e.person, link)

		fresh := auth.WithSession(ctx, auth.Session{UserID: e.person.ID, ID: "s", SignedInAt: now})
		if err := e.svc.RefusePendingLink(fresh, link.ID); err != nil {
			t.Fatal(err)
		}
		e.wantPendingLinks(t, e.person)
	})
}
