package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// TestADeletionThatFailsHalfWayLeavesTheApplicationToBeDeletedOnly: the deletion marks the
// application before its first connection ends, so a deletion stopped by a failure leaves an
// application its team can read and delete again, and change in no other way: a change made
// then would be undone by the deletion, or outlive it; an ownership transfer proposed before
// is withdrawn. The mark is the deletion's first moment, and a second attempt keeps it.
func TestADeletionThatFailsHalfWayLeavesTheApplicationToBeDeletedOnly(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		person := e.person(t)
		e.connect(t, person, app, "")
		heir := e.member(t, app, appmember.RoleAdmin)
		heirID, _ := auth.RequireUser(heir)
		if _, err := e.svc.Team().ProposeTransfer(dev, app.ID, heirID); err != nil {
			t.Fatal(err)
		}

		failDeletionHalfWay(t, e, dev, app)
		marked := e.db.Application.GetX(ctx, app.ID)
		failDeletionHalfWay(t, e, dev, app)
		if again := e.db.Application.GetX(ctx, app.ID); !again.DeletingSince.Equal(*marked.DeletingSince) {
			t.Errorf("deleting since %v after the second attempt, want the first's %v", again.DeletingSince, marked.DeletingSince)
		}

		for _, tt := range []struct {
			name string
			op   func() error
		}{
			{"a settings change", func() error {
				_, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{Name: ptr("Revived")})
				return err
			}},
			{"a client secret rotation", func() error { _, err := e.svc.RotateClientSecret(dev, app.ID); return err }},
			{"an import", func() error {
				_, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "u1", Email: "someone@example.com"}}})
				return err
			}},
		} {
			err := tt.op()
			if !apperr.Is(err, apperr.Conflict) || apperr.As(err).Reason != "application_deleting" {
				t.Errorf("%s while the application is being deleted: %v, want conflict application_deleting", tt.name, err)
			}
		}
		if got := e.db.Application.GetX(ctx, app.ID); got.Name != app.Name || got.SecretHash != app.SecretHash {
			t.Errorf("the refused changes changed the application: name %q, secret changed %v", got.Name, got.SecretHash != app.SecretHash)
		}
		if _, err := e.svc.Authorize(dev, app.ID, team.ReadApp); err != nil {
			t.Errorf("reading the application being deleted: %v", err)
		}
		if _, err := e.svc.Team().AcceptTransfer(heir, app.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("accepting the transfer proposed before the deletion: %v, want not found", err)
		}

		if err := e.svc.DeleteApplication(dev, app.ID); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
		if _, err := e.db.Application.Get(ctx, app.ID); !store.NotFound(err) {
			t.Fatalf("the application after the deletion finished: %v, want it gone", err)
		}
	})
}
