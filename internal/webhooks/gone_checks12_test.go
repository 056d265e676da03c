package webhooks_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAWebhooksGoneLeavesPendingLogoutsToBeSent: the application's webhook endpoint answers
// 410 Gone while a back-channel logout of one of its people waits for its next attempt (its
// receiver was down). The 410 disables the webhook and stops its pending events, but says
// nothing of the back-channel logout URI (a logout is sent there whatever the webhook's
// state): the logout is still sent, and the relying party ends the session of the person who
// signed out. The 410 stopped every pending event of the application, logouts included, so
// the person's sign-out never reached the application.
func TestAWebhooksGoneLeavesPendingLogoutsToBeSent(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hook, logout := newReceiver(t), newReceiver(t)
		hook.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		logout.setAnswer(func(_ hit, n int) (int, http.Header) {
			if n == 1 {
				return http.StatusServiceUnavailable, nil // down at the first attempt
			}
			return http.StatusOK, nil
		})
		f := newFixture(t, db, hook.URL)
		f.app = db.Application.UpdateOne(f.app).SetBackchannelLogoutURI(logout.URL).SaveX(ctx)
		var logoutID string
		err := db.Tx(ctx, func(tx *ent.Tx) error {
			ev, err := webhooks.EnqueueLogout(ctx, tx, f.app, map[string]any{"sub": "con_1"}, f.clock.Now())
			if ev != nil {
				logoutID = ev.ID
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		w := f.worker(db, func(c *webhooks.WorkerConfig) {
			c.LogoutToken = func(context.Context, *ent.Application, []byte) (string, error) { return "logout-token", nil }
		})
		drain(t, w) // the logout's first attempt fails: pending, retried in 5 s
		hookID := f.enqueue(t, f.app, 1)[0]
		drain(t, w) // the webhook answers 410
		if ev := f.event(t, hookID); ev.Status != webhookevent.StatusDisabled {
			t.Fatalf("the webhook event after its 410: %s, want disabled", ev.Status)
		}
		f.clock.Advance(time.Minute)
		drain(t, w)
		if ev := f.event(t, logoutID); ev.Status != webhookevent.StatusDelivered || ev.Attempts != 2 {
			t.Errorf("the logout after the webhook's 410: %s after %d attempts, want delivered at the second", ev.Status, ev.Attempts)
		}
		if n := len(logout.Hits()); n != 2 {
			t.Errorf("the logout receiver got %d requests, want 2", n)
		}
	})
}
