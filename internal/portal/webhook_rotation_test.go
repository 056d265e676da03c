package portal_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"loginsign/internal/portal"
)

// A webhook secret reset keeps the replaced secret signing for WebhookSecretOverlap (stored
// sealed as it was, with its end); a reset that revokes it leaves no previous secret, and a
// second reset within the day replaces the first's previous secret with the one it replaces.
func TestAWebhookSecretResetKeepsThePreviousOneForADayUnlessRevoked(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Shop", WebhookURL: "https://shop.example/hook"})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		before := time.Now()
		out, err := e.svc.RotateWebhookSecret(dev, app.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.db.Application.Get(ctx, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.WebhookPreviousSecret, app.WebhookSecret) || got.WebhookPreviousSecretUntil == nil || out.PreviousValidUntil == nil ||
			!got.WebhookPreviousSecretUntil.Equal(*out.PreviousValidUntil) {
			t.Fatalf("after a reset: previous secret kept %v, until %v (answered %v)", bytes.Equal(got.WebhookPreviousSecret, app.WebhookSecret),
				got.WebhookPreviousSecretUntil, out.PreviousValidUntil)
		}
		if d := out.PreviousValidUntil.Sub(before); d < portal.WebhookSecretOverlap-time.Second || d > portal.WebhookSecretOverlap+time.Minute {
			t.Errorf("the previous secret signs for %v, want %v", d, portal.WebhookSecretOverlap)
		}
		if opened, err := e.svc.WebhookSecrets.Open(got.WebhookSecret); err != nil || string(opened) != out.Secret {
			t.Fatalf("the stored secret is not the one answered (%v)", err)
		}

		again, err := e.svc.RotateWebhookSecret(dev, app.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		second, _ := e.db.Application.Get(ctx, app.ID)
		if !bytes.Equal(second.WebhookPreviousSecret, got.WebhookSecret) {
			t.Error("a second reset did not keep the secret it replaced as the previous one")
		}

		revoked, err := e.svc.RotateWebhookSecret(dev, app.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		third, _ := e.db.Application.Get(ctx, app.ID)
		if revoked.PreviousValidUntil != nil || third.WebhookPreviousSecretUntil != nil || len(third.WebhookPreviousSecret) != 0 {
			t.Errorf("a reset revoking the previous secret left it: answered %v, stored until %v, %d bytes",
				revoked.PreviousValidUntil, third.WebhookPreviousSecretUntil, len(third.WebhookPreviousSecret))
		}
		if revoked.Secret == again.Secret || revoked.Secret == out.Secret {
			t.Error("a reset answered a secret it had answered before")
		}
	})
}
