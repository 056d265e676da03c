package portal_test

import (
	"context"
	"errors"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
)

// TestADeveloperPointsDeliveryURLsAtFewNewHostsADay22: a test event goes to whatever host
// and port the webhook URL names, and its answer tells whether an HTTP server answers there.
// Changing the URL before each send, one free account probed 300 third-party ports an hour
// from LoginSign's addresses. The hosts and ports a developer newly points webhook and
// back-channel logout URLs at are now bounded per day (portal.DefaultDeliveryTargets), at
// creation as in the settings: past it the change is refused (429) and nothing is saved. A
// host used within the day, or a new path on the same host, counts nothing again; another
// developer is not held up.
func TestADeveloperPointsDeliveryURLsAtFewNewHostsADay22(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		e.svc.DeliveryTargets = ratelimit.Rule{N: 3}
		dev, other := e.developer(t), e.developer(t)
		app := e.app(t, dev)
		set := func(ctx context.Context, appID, webhook string) error {
			_, err := e.svc.UpdateApplication(ctx, appID, portal.ApplicationPatch{WebhookURL: ptr(webhook)})
			return err
		}
		for i, u := range []string{
			"https://victim.example:22/hook",   // new: 1
			"https://victim.example:22/other",  // the same host and port
			"https://victim.example:25/hook",   // new: 2
			"https://victim.example:22/hook",   // used today
			"https://victim.example:3306/hook", // new: 3
		} {
			if err := set(dev, app.ID, u); err != nil {
				t.Fatalf("change %d (%s): %v", i+1, u, err)
			}
		}
		limited := func(what string, err error) {
			t.Helper()
			var ae *apperr.Error
			if !apperr.Is(err, apperr.RateLimited) || !errors.As(err, &ae) || ae.RetryAfter < 1 {
				t.Errorf("%s: %v, want 429 rate_limited with a Retry-After", what, err)
			}
		}
		limited("a fourth new port", set(dev, app.ID, "https://victim.example:5432/hook"))
		limited("a back-channel logout URI at a new host", func() error {
			_, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{BackchannelLogoutURI: ptr("https://victim.example:6379/logout")})
			return err
		}())
		limited("a new application's webhook at a new host", func() error {
			_, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Scan", RedirectURIs: []string{"https://scan22.example/cb"},
				WebhookURL: "https://victim.example:8443/hook"})
			return err
		}())
		if got := e.db.Application.GetX(ctx, app.ID); got.WebhookURL != "https://victim.example:3306/hook" || got.BackchannelLogoutURI != "" {
			t.Errorf("after the refusals: webhook %q, back-channel logout %q; want the last one accepted and none",
				got.WebhookURL, got.BackchannelLogoutURI)
		}
		if err := set(dev, app.ID, "https://victim.example:25/receiver"); err != nil {
			t.Errorf("a host used today, past the budget: %v", err)
		}
		mine := e.app(t, other)
		if err := set(other, mine.ID, "https://victim.example:5432/hook"); err != nil {
			t.Errorf("another developer: %v", err)
		}
	})
}
