package webhooks_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// For a day after a reset the replaced secret signs next to the new one (one signature each in
// webhook-signature), so a receiver still holding it accepts deliveries while it is switched
// over; past the overlap, and after a reset that revoked it, only the new secret verifies.
func TestAReplacedWebhookSecretSignsNextToTheNewOneUntilTheOverlapEnds(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL+"/hooks")
		old := f.secret
		fresh := portal.NewWebhookSecret()
		until := f.clock.Now().Add(portal.WebhookSecretOverlap)
		// What portal.RotateWebhookSecret writes: the new secret, the old one with its end.
		if err := f.app.Update().SetWebhookSecret(f.secrets.Seal([]byte(fresh))).
			SetWebhookPreviousSecret(f.app.WebhookSecret).SetWebhookPreviousSecretUntil(until).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		deliver := func(what string) (byOld, byNew bool) {
			t.Helper()
			before := len(rcv.Hits())
			f.enqueue(t, f.app, 1)
			drain(t, f.worker(db))
			hits := rcv.Hits()
			if len(hits) != before+1 {
				t.Fatalf("%s: receiver got %d requests, want %d", what, len(hits), before+1)
			}
			h := hits[len(hits)-1]
			return verifyStandardWebhook(old, headerOf(h), h.Body, f.clock.Now()), verifyStandardWebhook(fresh, headerOf(h), h.Body, f.clock.Now())
		}
		if byOld, byNew := deliver("within the overlap"); !byOld || !byNew {
			t.Errorf("within the overlap: verifies with the replaced secret %v, with the new one %v; want both", byOld, byNew)
		}
		f.clock.Set(until.Add(time.Second))
		if byOld, byNew := deliver("after the overlap"); byOld || !byNew {
			t.Errorf("after the overlap: verifies with the replaced secret %v, with the new one %v; want only the new", byOld, byNew)
		}
	})
}
