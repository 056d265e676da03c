package portal_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// An application whose redirect or post-logout redirect URI was saved with an answer's
// parameter in its query (code, state) before registration refused that still has its other
// settings edited: the unchanged URIs, which the answer now replaces the parameter of, do not
// block a rename, as an unchanged URL saved under older rules never does. A new URI holding
// one is still refused.
func TestAURISavedBeforeTheQueryRuleDoesNotBlockOtherEdits(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		cb := strings.TrimSuffix(app.RedirectUris[0], "/cb") + "/cb?code=legacy"
		bye := strings.TrimSuffix(app.RedirectUris[0], "/cb") + "/bye?state=out"
		if err := e.db.Application.UpdateOneID(app.ID).SetRedirectUris([]string{cb}).
			SetPostLogoutRedirectUris([]string{bye}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		up, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{Name: ptr("Shop Renamed")})
		if err != nil {
			t.Fatalf("renaming an application with URIs saved before the rule: %v", err)
		}
		if up.Application.Name != "Shop Renamed" {
			t.Fatalf("name %q", up.Application.Name)
		}
		// The portal's form sends every field.
		if _, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{Name: ptr("Shop Again"),
			RedirectURIs: []string{cb}, PostLogoutRedirectURIs: []string{bye}}); err != nil {
			t.Fatalf("the form saved with its URIs unchanged: %v", err)
		}
		_, err = e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{
			PostLogoutRedirectURIs: []string{bye, strings.Replace(bye, "/bye", "/bye2", 1)}})
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a new post-logout URI holding state: %v, want refused", err)
		}
	})
}
