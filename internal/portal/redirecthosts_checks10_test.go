package portal_test

import (
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/portal"
)

// A member of one of an owner's applications is not on the team of the owner's other
// applications: they cannot copy the host of another into the one they are on (and from there
// into an application of their own, as a member of a holder), while the owner can. The
// owner's applications were exempt from the check as a whole, so a developer-role member of a
// small application could register the redirect host of the owner's big one and then clone it.
func TestAMemberOfOneOfAnOwnersApplicationsCannotCopyTheHostOfAnother(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		owner := e.developer(t)
		big, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Big Shop", RedirectURIs: []string{"https://big-shop.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		small, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Small Tool", RedirectURIs: []string{"https://small-tool.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		member := e.member(t, small.Application, appmember.RoleDeveloper)
		bigHost := []string{"https://small-tool.example/cb", "https://big-shop.example/other"}
		_, err = e.svc.UpdateApplication(member, small.Application.ID, portal.ApplicationPatch{RedirectURIs: bigHost})
		wantHostTaken(t, "a member of the small application adding the big one's host to it", err, big.Application, e.email(t, owner))
		if got := e.db.Application.GetX(t.Context(), small.Application.ID).RedirectUris; len(got) != 1 {
			t.Errorf("the small application's redirect URIs after the refusal: %q", got)
		}
		own, err := e.svc.CreateApplication(member, portal.ApplicationInput{Name: "Mine", RedirectURIs: []string{"https://mine.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.UpdateApplication(member, own.Application.ID, portal.ApplicationPatch{RedirectURIs: []string{"https://big-shop.example/cb"}})
		wantHostTaken(t, "the member's own application", err, big.Application, e.email(t, owner))
		if _, err := e.svc.UpdateApplication(owner, small.Application.ID, portal.ApplicationPatch{RedirectURIs: bigHost}); err != nil {
			t.Errorf("the owner adding the big application's host to the small one: %v", err)
		}
	})
}
