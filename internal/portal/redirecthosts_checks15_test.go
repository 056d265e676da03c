package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/portal"
)

// TestASupportMemberCannotCopyItsApplicationsRedirectHost (review helper team15, checks15):
// support may not change an application's settings, its redirect URIs included, yet being on
// the team let it register the application's host and scheme for an application of its own
// (a copy with the same name whose consent page named the real one's host, which it kept
// after being taken off the team). Only a role that may change the holder's settings (owner,
// admin, developer) shares its hosts; support gets 409 redirect_uri_taken, at creation and by
// an edit, and nothing is stored.
func TestASupportMemberCannotCopyItsApplicationsRedirectHost(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		owner := e.developer(t)
		created, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Acme Notes",
			RedirectURIs: []string{"https://acme.example/cb", "com.acme.notes:/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		acme, acmeEmail := created.Application, e.email(t, owner)
		support := e.member(t, acme, appmember.RoleSupport)
		for _, uris := range [][]string{{"https://acme.example/cb"}, {"com.acme.notes:/cb"}} {
			_, err := e.svc.CreateApplication(support, portal.ApplicationInput{Name: "Acme Notes", RedirectURIs: uris})
			wantHostTaken(t, "a support member creating an application on "+uris[0], err, acme, acmeEmail)
		}
		own, err := e.svc.CreateApplication(support, portal.ApplicationInput{Name: "Mine", RedirectURIs: []string{"https://support-own.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.UpdateApplication(support, own.Application.ID, portal.ApplicationPatch{RedirectURIs: []string{"https://acme.example/cb"}})
		wantHostTaken(t, "a support member adding the host to their application", err, acme, acmeEmail)
		_, err = e.svc.UpdateApplication(support, own.Application.ID, portal.ApplicationPatch{
			RedirectURIs: []string{"https://support-own.example/cb"}, PostLogoutRedirectURIs: []string{"https://acme.example/bye"}})
		wantHostTaken(t, "a support member adding the host as a post-logout URI", err, acme, acmeEmail)
		if n := e.db.Application.Query().Where(application.IDNEQ(acme.ID), application.NameEQ("Acme Notes")).CountX(ctx); n != 0 {
			t.Errorf("refused creations stored %d applications", n)
		}
		if got := e.db.Application.GetX(ctx, own.Application.ID); len(got.RedirectUris) != 1 || len(got.PostLogoutRedirectUris) != 0 {
			t.Errorf("refused edits stored %v and %v", got.RedirectUris, got.PostLogoutRedirectUris)
		}
		// A developer member, who may change the application's own redirect URIs, still may.
		dev := e.member(t, acme, appmember.RoleDeveloper)
		if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Acme Tasks", RedirectURIs: []string{"https://acme.example/tasks"}}); err != nil {
			t.Errorf("a developer member creating an application on the host: %v", err)
		}
	})
}
