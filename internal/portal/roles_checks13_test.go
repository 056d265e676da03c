package portal_test

import (
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestSupportSeesNoBackchannelLogoutURI: the back-channel logout URI is where LoginSign posts
// to the application's backend, like the webhook URL, and may carry a token; support, which
// reads no webhook URL, reads neither (Forbidden field by field, cleared in the application as
// AsViewer shows it), and a developer reads both. Before stop 61 support read it.
func TestSupportSeesNoBackchannelLogoutURI(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		owner := e.developer(t)
		const logout = "https://shop.example/logout?token=s3cret"
		created, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://shop.example/cb"},
			WebhookURL: "https://shop.example/hook", BackchannelLogoutURI: logout})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		support := e.member(t, app, appmember.RoleSupport)
		developer := e.member(t, app, appmember.RoleDeveloper)

		if u, err := e.svc.BackchannelLogoutURI(support, app); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("support reads the back-channel logout URI: %q, %v; want forbidden", u, err)
		}
		if seen, _, err := e.svc.AsViewer(support, app); err != nil || seen.BackchannelLogoutURI != "" || seen.WebhookURL != "" {
			t.Errorf("the application as support sees it: logout URI %q, webhook URL %q, %v; want both empty", seen.BackchannelLogoutURI, seen.WebhookURL, err)
		}
		if u, err := e.svc.BackchannelLogoutURI(developer, app); err != nil || u != logout {
			t.Errorf("a developer reads the back-channel logout URI: %q, %v; want %q", u, err, logout)
		}
		if seen, _, err := e.svc.AsViewer(developer, app); err != nil || seen.BackchannelLogoutURI != logout {
			t.Errorf("the application as a developer sees it: logout URI %q, %v", seen.BackchannelLogoutURI, err)
		}
	})
}
