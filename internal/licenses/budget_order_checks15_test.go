package licenses_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// fillAppCausedDay writes activity.AppCausedPerDay events of w.app into u's log an hour ago,
// so that the developer's applications may add no more to it today.
func fillAppCausedDay(t *testing.T, w *world, userID, connID string) {
	t.Helper()
	ctx := context.Background()
	at := w.clock.Now().Add(-time.Hour)
	for range activity.AppCausedPerDay {
		if err := w.db.ActivityEvent.Create().SetID(ids.New(ids.ActivityEvent)).SetType(string(activity.LicenseAction)).
			SetActor(activity.ByApplication).SetUserID(userID).SetApplicationID(w.app.ID).SetConnectionID(connID).
			SetCreatedAt(at).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefusedAppChangesSpendNoneOfTheConnectionsBudget: a status sync (or a redemption with
// the person's token) refused because the developer's applications already wrote
// activity.AppCausedPerDay events into the person's log today changes nothing, and must not
// spend the connection's StatusChanges either. Before, the budget was taken first and the
// day's cap refused afterwards: every refused retry of the backend used up the hour's budget,
// so once the day's cap freed, the person's real plan change (a purchase, a cancellation)
// was still refused 429 for up to an hour.
func TestRefusedAppChangesSpendNoneOfTheConnectionsBudget(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		w.svc.StatusChanges = ratelimit.Rule{Name: "status-changes", N: 3, Window: time.Hour}
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		fillAppCausedDay(t, w, ann.ID, conn.ID)

		for range 5 {
			_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PRO"})
			wantErr(t, err, "rate_limited")
		}
		v := w.variant(t, "Gold", "")
		codes := w.codes(t, v, 5)
		for _, c := range codes {
			_, err := w.svc.Redeem(asToken(conn), "", c)
			wantErr(t, err, "rate_limited")
		}
		if n := db.LicenseCode.Query().CountX(ctx); n != len(codes) {
			t.Fatalf("%d license rows after the refused changes, want the %d generated codes only", n, len(codes))
		}

		// The day's cap frees (the old events leave the window).
		db.ActivityEvent.Delete().Where(activityevent.UserID(ann.ID), activityevent.CreatedAtLT(w.clock.Now())).ExecX(ctx)
		if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PRO"}); err != nil {
			t.Fatalf("the first status change once the day's cap freed: %v; want it made (the refused syncs spent the connection's budget)", err)
		}
		if _, err := w.svc.Redeem(asToken(conn), "", codes[0]); err != nil {
			t.Fatalf("a redemption with the person's token once the day's cap freed: %v; want it claimed", err)
		}
		if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Revoke: true}); err != nil {
			t.Fatalf("the third change of the hour: %v; want it made", err)
		}
		// The budget still holds: the fourth change of the hour is refused.
		_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PRO"})
		wantErr(t, err, "rate_limited")
	})
}
