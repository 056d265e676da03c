package licenses_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestResendingAPersonsTimedPlanIsNoChange: a backend that sends the person's current plan on
// every sign-in or every few minutes (README: "sending the values it already has spends
// nothing") must not spend the person's StatusChanges budget nor write an event each time.
// With a MONTH or YEAR plan it did: each grant recomputed the expiry from its own now, a few
// milliseconds later than the last, so every resend counted as a change, wrote a
// license_action event into the person's log, and the 61st within an hour answered 429
// rate_limited for an hour (the request the backend makes most, refused).
func TestResendingAPersonsTimedPlanIsNoChange(t *testing.T) {
	t.Parallel()
	const refreshGrain = time.Hour // the grain of licenses' status refreshes
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		plan := licenses.StatusInput{Status: "PRO", Duration: "MONTH"}
		for i := range 120 {
			if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, plan); err != nil {
				t.Fatalf("resend %d of the same plan, %d s after the first: %v", i, i*20, err)
			}
			w.clock.Add(20 * time.Second)
		}
		n := db.ActivityEvent.Query().Where(activityevent.UserID(ann.ID), activityevent.Type(string(activity.LicenseAction))).CountX(ctx)
		if n > 1+int(40*time.Minute/refreshGrain) {
			t.Errorf("%d license_action events for one plan resent every 20 s for 40 min, want the grant and at most one refresh per %v", n, refreshGrain)
		}
		// The plan still runs a month from about now, and a real renewal moves it.
		r, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, plan)
		if err != nil || r.License.ExpiresAt == nil || w.clock.Now().AddDate(0, 1, 0).Sub(*r.License.ExpiresAt) >= refreshGrain {
			t.Fatalf("the plan after the resends = %+v, %v; want it to run a month from now, give or take %v", r, err, refreshGrain)
		}
		w.clock.Add(24 * time.Hour)
		r, err = w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, plan)
		if err != nil || r.License.ExpiresAt == nil || !r.License.ExpiresAt.Equal(w.clock.Now().AddDate(0, 1, 0)) {
			t.Fatalf("a resend a day later = %+v, %v; want the expiry refreshed to a month from now", r, err)
		}
	})
}
