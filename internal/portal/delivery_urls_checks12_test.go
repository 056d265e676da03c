package portal_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// TestOnlyWhoMayEditSettingsGetsADeliveryURLResolved: UpdateApplication resolved a changed
// webhook or back-channel logout URL (webhooks.CheckTarget, a DNS lookup of up to 3 s each)
// before it looked at the caller. Anyone, signed in or not, on the application's team or not,
// had LoginSign's resolver look up names of their choosing, and read in the answer whether a
// name resolves to a private address of LoginSign's network ("resolves only to private or
// loopback addresses", 400) or not (401, 404, 403): a map of internal names without an
// account. The caller comes first: signed out 401, off the team 404 (as for any application
// that does not exist), a role that may not edit settings 403, before any lookup.
func TestOnlyWhoMayEditSettingsGetsADeliveryURLResolved(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		app := e.app(t, e.developer(t))
		signedOut := context.Background()
		stranger := e.developer(t)
		support := e.member(t, app, appmember.RoleSupport)
		oldSignIn := auth.WithSession(context.Background(), auth.Session{UserID: e.person(t).ID, SignedInAt: time.Now().Add(-time.Hour)})
		for field, internal := range map[string]portal.ApplicationPatch{
			"webhookUrl":           {WebhookURL: ptr("https://localhost/hook")},
			"backchannelLogoutUri": {BackchannelLogoutURI: ptr("https://localhost/logout")},
		} {
			for _, tc := range []struct {
				who  string
				ctx  context.Context
				app  string
				want apperr.Code
			}{
				{"signed out", signedOut, app.ID, apperr.Unauthorized},
				{"signed out, an application that does not exist", signedOut, "app_nonexistent", apperr.Unauthorized},
				{"off the team", stranger, app.ID, apperr.NotFound},
				{"off the team, an application that does not exist", oldSignIn, "app_nonexistent", apperr.NotFound},
				{"support", support, app.ID, apperr.Forbidden},
			} {
				if _, err := e.svc.UpdateApplication(tc.ctx, tc.app, internal); apperr.CodeOf(err) != tc.want {
					t.Errorf("%s, %s: %v, want %s before the URL is resolved", tc.who, field, err, tc.want)
				}
			}
		}
		// Whoever may edit the settings still gets the URL checked.
		if _, err := e.svc.UpdateApplication(e.member(t, app, appmember.RoleDeveloper), app.ID,
			portal.ApplicationPatch{WebhookURL: ptr("https://localhost/hook")}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a developer's loopback webhook URL: %v, want invalid_request", err)
		}
	})
}
