package portal_test

import (
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// TestATransferHandsOverTheHostsClaimButLendsThemToNobodyElse (checks10): after an ownership
// transfer the new owner's other applications may register the transferred application's
// host (they own an application that holds it now). Once the new owner takes the old owner
// off the team, the old owner's new applications may not (no application of theirs holds it):
// the claim went with the application. A developer off both teams never may.
func TestATransferHandsOverTheHostsClaimButLendsThemToNobodyElse(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		old := e.developer(t)
		created, err := e.svc.CreateApplication(old, portal.ApplicationInput{Name: "Acme", RedirectURIs: []string{"https://acme-transfer.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		next := e.member(t, app, appmember.RoleAdmin)
		nextID, _ := auth.RequireUser(next)
		oldID, _ := auth.RequireUser(old)
		if _, err := e.svc.Team().ProposeTransfer(old, app.ID, nextID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Team().AcceptTransfer(next, app.ID); err != nil {
			t.Fatal(err)
		}
		in := portal.ApplicationInput{Name: "Acme 2", RedirectURIs: []string{"https://acme-transfer.example/two"}}
		if _, err := e.svc.CreateApplication(next, in); err != nil {
			t.Errorf("the new owner's other application on the host: %v", err)
		}
		if err := e.svc.Team().Remove(next, app.ID, oldID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.CreateApplication(old, in)
		wantHostTaken(t, "the old owner taken off the team", err, app, e.email(t, next))
		fresh := e.developer(t)
		_, err = e.svc.CreateApplication(fresh, in)
		wantHostTaken(t, "a developer off both teams", err, app, e.email(t, old))
	})
}
