package server

import (
	"context"
	"net/http"
	"testing"
)

// TestAMemberWhoMayNotRotateSecretsCannotReplaceTheWebhookSecret: a developer, whose role may
// not rotate secrets, replaced the webhook secret anyway by clearing the webhook URL and
// setting it again: the application's receiver no longer verified LoginSign's signatures, and
// the log recorded no webhook_secret_rotated. The secret now outlives the URL.
func TestAMemberWhoMayNotRotateSecretsCannotReplaceTheWebhookSecret(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		owner := e.person("owner@example.com", "Owen Owner", true)
		dev := e.person("dev@example.com", "Dev Developer", true)
		app := owner.createApp("Hooked", true)
		e.join(owner, app, dev, "developer")
		before, err := e.srv.db.Application.Get(ctx, app)
		if err != nil || len(before.WebhookSecret) == 0 {
			t.Fatalf("the application's webhook: %v, secret %d bytes", err, len(before.WebhookSecret))
		}
		if s, b := dev.do("POST", "/api/developer/applications/"+app+"/webhook/secret/rotate", nil); s != http.StatusForbidden {
			t.Fatalf("rotate as developer = %d %s, want 403", s, b)
		}
		url := "https://hooked.example.com/hook"
		dev.json("PATCH", "/api/developer/applications/"+app, map[string]any{"webhookUrl": ""}, http.StatusOK)
		out := dev.json("PATCH", "/api/developer/applications/"+app, map[string]any{"webhookUrl": url}, http.StatusOK)
		after, err := e.srv.db.Application.Get(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if string(before.WebhookSecret) != string(after.WebhookSecret) || after.WebhookURL != url {
			t.Errorf("a developer replaced the webhook secret by clearing and setting the URL (%q)", after.WebhookURL)
		}
		if s, _ := out["webhookSecret"].(string); s != "" {
			t.Errorf("the developer was shown a webhook secret %q", s)
		}
	})
}
