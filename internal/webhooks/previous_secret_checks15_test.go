package webhooks_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAReplacedWebhookSecretIsForgottenOnceItsOverlapEnds: after a webhook secret reset the
// replaced secret was kept, sealed, in webhook_previous_secret for ever, although it signed
// nothing after webhook_previous_secret_until: a secret reset because it leaked stayed in the
// database and every backup of it. The housekeeping's PurgePreviousSecrets now clears it once
// the overlap has ended, and leaves a secret still in its overlap alone (it goes on signing).
func TestAReplacedWebhookSecretIsForgottenOnceItsOverlapEnds(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL+"/hooks")
		svc := &webhooks.Service{DB: db, Now: f.clock.Now}
		// What portal.RotateWebhookSecret writes: the new secret, the old one with its end.
		reset := func(app string, sealed []byte, until time.Time) {
			t.Helper()
			if err := db.Application.UpdateOneID(app).SetWebhookSecret(f.secrets.Seal([]byte(portal.NewWebhookSecret()))).
				SetWebhookPreviousSecret(sealed).SetWebhookPreviousSecretUntil(until).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		expired := f.app
		reset(expired.ID, expired.WebhookSecret, f.clock.Now().Add(portal.WebhookSecretOverlap))
		current, _ := f.newApp(t, rcv.URL+"/other")
		f.clock.Advance(portal.WebhookSecretOverlap + time.Minute)
		reset(current.ID, current.WebhookSecret, f.clock.Now().Add(portal.WebhookSecretOverlap))

		n, err := svc.PurgePreviousSecrets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("PurgePreviousSecrets cleared %d applications, want 1", n)
		}
		got := db.Application.GetX(ctx, expired.ID)
		if len(got.WebhookPreviousSecret) != 0 || got.WebhookPreviousSecretUntil != nil {
			t.Errorf("past its overlap the replaced secret is still stored (%d bytes, until %v)",
				len(got.WebhookPreviousSecret), got.WebhookPreviousSecretUntil)
		}
		if len(got.WebhookSecret) == 0 {
			t.Error("the current secret was cleared too")
		}
		kept := db.Application.GetX(ctx, current.ID)
		if len(kept.WebhookPreviousSecret) == 0 || kept.WebhookPreviousSecretUntil == nil {
			t.Error("a replaced secret still in its overlap was cleared")
		}
		// Run again: nothing more to clear.
		if n, err := svc.PurgePreviousSecrets(ctx); err != nil || n != 0 {
			t.Errorf("a second purge cleared %d (%v), want 0", n, err)
		}
	})
}
