package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// TestATransferDoesNotTakeTheNewOwnerPastTheirPendingLinks (checks12, team review): the
// pending links an owner's applications hold are bounded (MaxPendingLinks), counted where an
// import writes them. An ownership transfer moved an application's links to its new owner
// unchecked, so a developer filled an application to the total, handed it to a second account
// of theirs and filled the next: two free accounts held 100 totals. Accepting a transfer that
// would take the new owner past the total is refused (invalid_request) and changes nothing;
// once the new owner makes room, it goes through.
func TestATransferDoesNotTakeTheNewOwnerPastTheirPendingLinks(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.MaxPendingLinks = 5
		e.svc.Now = steppingClock()
		filler := e.developer(t)
		full := e.app(t, filler)
		if _, err := e.svc.Import(filler, full.ID, portal.ImportRequest{Users: importUsers("full", 3)}); err != nil {
			t.Fatal(err)
		}
		heir := e.member(t, full, appmember.RoleAdmin)
		heirID, _ := auth.RequireUser(heir)
		own := e.app(t, heir)
		run, err := e.svc.Import(heir, own.ID, portal.ImportRequest{Users: importUsers("own", 3)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Team().ProposeTransfer(filler, full.ID, heirID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Team().AcceptTransfer(heir, full.ID)
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("accepting an application with 3 pending links while owning 3 (total 5): %v, want invalid_request", err)
		}
		if got := e.db.Application.GetX(ctx, full.ID); got.OwnerID == heirID || got.TransferTo == nil {
			t.Fatalf("the refused transfer changed the application: owner %s, transfer %v", got.OwnerID, got.TransferTo)
		}
		if _, err := e.svc.RollbackImport(heir, own.ID, run.Source.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Team().AcceptTransfer(heir, full.ID); err != nil {
			t.Fatalf("accepting once the new owner made room: %v", err)
		}
	})
}
