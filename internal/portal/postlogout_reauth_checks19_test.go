package portal_test

import (
	"context"
	"slices"
	"testing"

	"loginsign/internal/portal"
)

// TestAStaleSignInCannotAddAPostLogoutRedirectURI19: LoginSign's /oauth/logout sends a
// browser to a registered post-logout redirect URI on the word of any link that names the
// client, under the application's name, and registering one claims its host in the
// developer's name. So, as a redirect URI, adding or changing one needs a recent sign-in: from
// a session an hour old (a thief's copy) the list stays as it was. The form sent back with the
// list unchanged still saves, and the developer signed in again changes it. Before, any
// session of an admin or developer registered the thief's page.
func TestAStaleSignInCannotAddAPostLogoutRedirectURI19(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://shop.example/cb"},
			PostLogoutRedirectURIs: []string{"https://shop.example/bye"}})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		stale := staleSession(dev)
		thiefs := []string{"https://shop.example/bye", "https://thief.example/shop-login"}

		_, err = e.svc.UpdateApplication(stale, app.ID, portal.ApplicationPatch{PostLogoutRedirectURIs: thiefs})
		wantReauthentication(t, "adding a post-logout redirect URI", err)
		_, err = e.svc.UpdateApplication(stale, app.ID, portal.ApplicationPatch{PostLogoutRedirectURIs: []string{"https://thief.example/shop-login"}})
		wantReauthentication(t, "replacing the post-logout redirect URIs", err)
		if after := e.db.Application.GetX(context.Background(), app.ID); !slices.Equal(after.PostLogoutRedirectUris, app.PostLogoutRedirectUris) {
			t.Fatalf("a stale sign-in changed the post-logout redirect URIs to %q", after.PostLogoutRedirectUris)
		}

		up, err := e.svc.UpdateApplication(stale, app.ID, portal.ApplicationPatch{Name: ptr("Shop 2"),
			PostLogoutRedirectURIs: app.PostLogoutRedirectUris})
		if err != nil || up.Application.Name != "Shop 2" {
			t.Fatalf("a name change with the post-logout redirect URIs unchanged: %+v, %v; want saved", up, err)
		}
		up, err = e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{PostLogoutRedirectURIs: thiefs})
		if err != nil || !slices.Equal(up.Application.PostLogoutRedirectUris, thiefs) {
			t.Fatalf("the developer signed in again: %+v, %v; want saved", up, err)
		}
	})
}
