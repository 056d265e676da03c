package portal_test

import (
	"context"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store/storetest"
)

// TestWebhookURLRefusesPrivateTargetsOutsideDev: the save-time SSRF check (delivery checks
// again at connect time).
func TestWebhookURLRefusesPrivateTargetsOutsideDev(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	sealer, _ := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
	owner := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(context.Background())
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: owner.ID})
	for _, dev := range []bool{false, true} {
		s := &portal.Service{DB: db, WebhookSecrets: sealer, Dev: dev}
		for _, target := range []string{"https://127.0.0.1/hook", "https://10.0.0.8/hook", "https://169.254.169.254/latest", "https://localhost/hook"} {
			_, err := s.CreateApplication(ctx, portal.ApplicationInput{Name: "X", WebhookURL: target})
			if dev && err != nil {
				t.Errorf("dev mode refused %s: %v", target, err)
			}
			if !dev && !apperr.Is(err, apperr.Invalid) {
				t.Errorf("outside dev mode %s: err = %v, want invalid_request", target, err)
			}
		}
	}
}
