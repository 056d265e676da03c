package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent/activityevent"
	"loginsign/ent/licensecode"
	"loginsign/internal/activity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAnAppBackendCannotFloodAPersonsActivityLogWithStatusChanges: every status sync that
// changes something (a grant, a revoke, a moved expiry) writes a license_action event into the
// person's own activity log. A repeated sync writes none, but a backend alternating grant and
// revoke changed something every time, and its only bound was the application's own quota of
// client requests, which its developer sets up to a million a minute: one application pushed
// the person's real events (sign-ins, address changes) out of their log and data export (the
// newest 20,000 events) and grew the table without end. Past licenses.DefaultStatusChanges
// changing syncs of one connection in its window, a change answers rate_limited and changes
// nothing; a sync that changes nothing is still answered; another person's syncs are not
// affected.
func TestAnAppBackendCannotFloodAPersonsActivityLogWithStatusChanges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		w.connect(t, ann, w.app)
		w.connect(t, bob, w.app)
		events := func(userID string) int {
			t.Helper()
			return db.ActivityEvent.Query().Where(activityevent.UserID(userID),
				activityevent.Type(string(activity.LicenseAction))).CountX(ctx)
		}

		const budget = 60 // licenses.DefaultStatusChanges
		const tries = 200
		var refused error
		for i := 0; i < tries && refused == nil; i++ {
			in := licenses.StatusInput{Status: "PRO"}
			if i%2 == 1 {
				in = licenses.StatusInput{Revoke: true}
			}
			_, refused = w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
		}
		if refused == nil {
			t.Fatalf("%d alternating grants and revokes of one person were all answered, and wrote %d events into their activity log",
				tries, events(ann.ID))
		}
		wantErr(t, refused, "rate_limited")
		if n := events(ann.ID); n != budget {
			t.Errorf("%d license_action events in the person's log, want %d (licenses.DefaultStatusChanges)", n, budget)
		}

		// The refused change changed nothing: the license is as the last answered sync left it.
		active := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID), licensecode.StateEQ(licensecode.StateACTIVE)).CountX(ctx)
		lastWasGrant := budget%2 == 1
		if (active == 1) != lastWasGrant {
			t.Errorf("%d active licenses after the refused change; the last answered sync was a grant: %v", active, lastWasGrant)
		}

		// A sync that changes nothing still answers (a backend re-sending the person's current
		// status), and writes nothing.
		repeat := licenses.StatusInput{Revoke: true}
		if lastWasGrant {
			repeat = licenses.StatusInput{Status: "PRO"}
		}
		if r, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, repeat); err != nil {
			t.Errorf("a sync that changes nothing, past the budget: %v", err)
		} else if r.Action != licenses.ActionUnchanged && r.Action != licenses.ActionGranted {
			t.Errorf("a repeated sync answered %q", r.Action)
		}
		if n := events(ann.ID); n != budget {
			t.Errorf("%d events after a sync that changed nothing, want %d", n, budget)
		}

		// Another person of the same application has a budget of their own.
		if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, bob.GlobalID, licenses.StatusInput{Status: "PRO"}); err != nil {
			t.Errorf("another person's grant: %v", err)
		}
	})
}
