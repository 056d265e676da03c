package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/ent/licensecode"
	"loginsign/ent/pendinglink"
	"loginsign/internal/portal"
)

// TestAStaleSignInCannotEndPeoplesConnections: with a developer session whose sign-in is older
// than auth.RecentSignIn (a stolen cookie), DELETE …/users/:connectionId (GraphQL
// deleteAppConnection) ends no connection: one by one over the users list, it did what deleting
// the application refuses to such a session, for every person of the application (their
// licenses expired, their aliases retired for good, user_account_deleted sent to the backend,
// which closes the account on its side). The same developer signed in again ends it.
func TestAStaleSignInCannotEndPeoplesConnections(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		conn := e.connect(t, e.person(t), app, "")
		stale := staleSession(dev)

		wantReauthentication(t, "ending a connection", e.svc.DeleteConnection(stale, app.ID, conn.ID))
		ctx := context.Background()
		if n := e.db.AppConnection.Query().Where(appconnection.ID(conn.ID)).CountX(ctx); n != 1 {
			t.Fatalf("the connection after a stale sign-in's deletion: %d rows, want it kept", n)
		}
		if n := e.db.LicenseCode.Query().Where(licensecode.StateEQ(licensecode.StateEXPIRED)).CountX(ctx); n != 0 {
			t.Fatalf("%d licenses expired by the refused deletion", n)
		}

		if err := e.svc.DeleteConnection(dev, app.ID, conn.ID); err != nil {
			t.Fatalf("ending the connection with a recent sign-in: %v", err)
		}
		if n := e.db.AppConnection.Query().Where(appconnection.ID(conn.ID)).CountX(ctx); n != 0 {
			t.Fatalf("the connection after a recent sign-in's deletion: %d rows, want none", n)
		}
	})
}

// TestAStaleSignInCannotRollBackAnImport: rolling back an import run ends, through
// connections.Delete, every connection people made by accepting its links, and withdraws its
// open links; neither can be undone. With a sign-in older than auth.RecentSignIn it answers
// reauthentication_required and changes nothing (a stolen cookie rolled back every run, ending
// the connections of everyone who joined through an import); signed in again, it rolls back.
func TestAStaleSignInCannotRollBackAnImport(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "open", Email: "open@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.RollbackImport(staleSession(dev), app.ID, res.Source.ID)
		wantReauthentication(t, "rolling back an import", err)
		if src := e.db.ImportSource.GetX(ctx, res.Source.ID); src.RolledBackAt != nil {
			t.Errorf("the run was marked rolled back by a stale sign-in")
		}
		if n := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d pending links after the refused rollback, want 1", n)
		}
		if rb, err := e.svc.RollbackImport(dev, app.ID, res.Source.ID); err != nil || rb.WithdrawnLinks != 1 {
			t.Fatalf("rolling back with a recent sign-in: %+v, %v", rb, err)
		}
	})
}
