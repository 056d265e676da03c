package dataexport_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAnExportNeedsARecentSignIn17: the export hands over at once every address, connection,
// session (with its browser) and the whole activity log, so a session cookie copied from
// the person's browser, whose sign-in is older than auth.RecentSignIn (or unknown), must not
// carry it off. Refused with Unauthorized reauthentication_required in the domain function
// (every transport), before the rate limit: nothing is read, recorded, mailed or spent, so the
// person's three exports of the day are all still there once they sign in again.
func TestAnExportNeedsARecentSignIn17(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ann := e.user("ann@example.com")
		for _, signedInAt := range []time.Time{now.Add(-auth.RecentSignIn - time.Second), now.Add(-30 * 24 * time.Hour), {}} {
			old := auth.WithSession(context.Background(), auth.Session{UserID: ann.ID, ID: "s-" + ann.ID, SignedInAt: signedInAt})
			for range 4 { // past the day's three, were they counted
				doc, err := e.svc.Export(old)
				if doc != nil || !apperr.Is(err, apperr.Unauthorized) || apperr.As(err).Reason != "reauthentication_required" {
					t.Fatalf("export with a sign-in at %v = %v, %v; want no document, Unauthorized reauthentication_required", signedInAt, doc != nil, err)
				}
			}
		}
		if n := len(e.mail.messages()); n != 0 {
			t.Errorf("%d mails after refused exports, want none", n)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.Type(string(activity.DataExported))).CountX(context.Background()); n != 0 {
			t.Errorf("%d data_exported events after refused exports, want none", n)
		}
		// Exactly RecentSignIn ago is still recent; the three exports of the day are whole.
		fresh := auth.WithSession(context.Background(), auth.Session{UserID: ann.ID, ID: "s-" + ann.ID, SignedInAt: now.Add(-auth.RecentSignIn)})
		for i := range 3 {
			if doc, err := e.svc.Export(fresh); err != nil || doc.Account.ID != ann.ID {
				t.Fatalf("export %d with a recent sign-in: %v", i+1, err)
			}
		}
		if _, err := e.svc.Export(fresh); !apperr.Is(err, apperr.RateLimited) {
			t.Errorf("a fourth export = %v, want RateLimited", err)
		}
		if n := len(e.mail.messages()); n != 3 {
			t.Errorf("%d mails after three exports, want 3", n)
		}
	})
}
