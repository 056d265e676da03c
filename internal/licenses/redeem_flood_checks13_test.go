package licenses_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAnAppBackendCannotFloodAPersonsActivityLogWithRedemptions: every code an application's
// backend redeems with the person's access token writes license_redeemed into the person's
// own log. Status syncs that change the person's licenses are bounded per connection
// (DefaultStatusChanges) for that reason, but redemptions with the token were bounded only by
// the guessing limit (20 a minute per holder) and MaxPerConnection, which a forced delete of
// the variant empties: generate codes, redeem them into the person, force-delete the variant,
// again — 1,200 events an hour, the person's real events pushed out of their log and export
// within a day. An application's redemptions count against the same per-connection budget as
// its status changes; past it the redemption answers rate_limited and claims nothing. The
// person's own redemptions (their session) are not counted.
func TestAnAppBackendCannotFloodAPersonsActivityLogWithRedemptions(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		// The guessing limits as if minutes passed between the redemptions.
		w.svc.Limits = licenses.RedeemLimits{PerAddress: ratelimit.Rule{Name: "redeem:ip", N: 10000, Window: time.Minute},
			PerHolder: ratelimit.Rule{Name: "redeem:holder", N: 10000, Window: time.Minute}}
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		const tries = 200
		redeemed := 0
		var refused error
		for cycle := 0; redeemed < tries && refused == nil; cycle++ {
			v := w.variant(t, "Flood"+string(rune('A'+cycle)), "")
			for _, c := range w.codes(t, v, 90) {
				if _, refused = w.svc.Redeem(asToken(conn), "", c); refused != nil {
					break
				}
				redeemed++
			}
			// Empty the connection's licenses for the next round.
			if err := w.svc.DeleteVariant(as(w.dev), w.app.ID, v.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		events := db.ActivityEvent.Query().Where(activityevent.UserID(ann.ID), activityevent.Type(string(activity.LicenseRedeemed))).CountX(ctx)
		if refused == nil {
			t.Fatalf("%d redemptions into one person by the application's backend were all answered, and wrote %d license_redeemed events into their log", redeemed, events)
		}
		if e := apperr.As(refused); e == nil || e.Code != apperr.RateLimited {
			t.Fatalf("the redemption past the budget: %v, want rate_limited", refused)
		}
		if budget := licenses.DefaultStatusChanges.N; redeemed != budget || events != budget {
			t.Errorf("%d redemptions answered, %d events, want %d (licenses.DefaultStatusChanges)", redeemed, events, budget)
		}
		// The person's own redemption, through their session, is theirs to make.
		v := w.variant(t, "Bought", "")
		if _, err := w.svc.Redeem(as(ann), w.app.ID, w.codes(t, v, 1)[0]); err != nil {
			t.Errorf("the person's own redemption past the application's budget: %v", err)
		}
	})
}
