package portal_test

import (
	"context"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestApplicationNamesCannotHoldAPhoneNumber: an application's name is written into mails
// LoginSign sends to any address a developer names (team invitations: "You are invited to
// help run <name> on LoginSign") and into the sign-in mail's subject. Mail programs and phones
// turn a phone number there into a number to tap, so "Account locked: call +1 555 010 0199"
// read as LoginSign's own support line. Such a name is refused at creation and at every edit,
// whatever the separators (no-break spaces, non-breaking hyphens, fullwidth digits); names
// with a few digits, or a range of years, are kept. Before, every name below was accepted.
func TestApplicationNamesCannotHoldAPhoneNumber(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Notes"})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			"Account locked: call +1 555 010 0199",
			"Security desk (555) 010-0199",
			"Acme Support 555.010.0199",
			"Acme +44 20 7946 0958",
			"Acme 0800 555 0100",
			"Hotline +1\u00a0555\u00a0010\u00a00199",
			"Hotline +1 555\u2011010\u20110199",
			"Hotline ＋１ ５５５ ０１０ ０１９９",
			"Call 5550100199 now",
		} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("create %q: %v, want invalid_request", name, err)
			}
			if _, err := e.svc.UpdateApplication(dev, created.Application.ID, portal.ApplicationPatch{Name: &name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("rename to %q: %v, want invalid_request", name, err)
			}
		}
		if got := e.db.Application.GetX(context.Background(), created.Application.ID).Name; got != "Notes" {
			t.Errorf("the name after refused renames: %q", got)
		}
		for _, name := range []string{"1-800-Flowers", "7-Eleven", "Notes 2024", "Season 2024-2025", "Season 2024 – 2025",
			"Studio 54 (NYC)", "Notes 2.0", "Game 2048", "Route 66 / 101"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); err != nil {
				t.Errorf("create %q: %v", name, err)
			}
		}
	})
}
