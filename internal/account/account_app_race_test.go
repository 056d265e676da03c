package account_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/licensevariant"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// The person removing an app in the dashboard (RemoveConnection) and the app's developer ending
// the same connection (portal.DeleteConnection) at the same moment: whichever locks first ends
// the connection, the other waits for it and then answers NotFound; neither fails. Both lock
// the application, then the connection. Before, the removal locked the connection first and
// needed the application only for the connection_deleted event's foreign key, while the
// developer held the application and waited for the connection's rows: PostgreSQL aborted one
// of the two (deadlock detected, SQLSTATE 40P01, an internal error). The test holds the
// connection's consent, which both delete, so that the first caller waits there with its
// locks taken; the second starts then, and the test lets the first go once the second waits
// too. PostgreSQL only: SQLite transactions take turns.
func TestRemovingAConnectionTheDeveloperEndsDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.PostgresOnly(t))
	developer := &portal.Service{DB: e.db, Now: func() time.Time { return now }}
	for _, personFirst := range []bool{true, false} {
		name := "the developer first"
		if personFirst {
			name = "the person first"
		}
		t.Run(name, func(t *testing.T) {
			person := e.user("remover-" + ids.RandomLower(6) + "@example.com")
			app := e.app("ended-" + ids.RandomLower(6))
			conn := e.connect(person, app, "")
			remove := func() error { return e.svc.RemoveConnection(as(person), conn.ID) }
			end := func() error { return developer.DeleteConnection(as(e.dev), app.ID, conn.ID) }
			first, second := remove, end
			if !personFirst {
				first, second = end, remove
			}
			firstErr, secondErr := e.raceHeld(t, holdConsent(e, conn), first, second)
			if firstErr != nil {
				t.Errorf("the first to end the connection: %v", firstErr)
			}
			if !apperr.Is(secondErr, apperr.NotFound) {
				t.Errorf("the second to end the connection: %v, want NotFound", secondErr)
			}
			if n := e.db.AppConnection.Query().Where(appconnection.ID(conn.ID)).CountX(context.Background()); n != 0 {
				t.Errorf("the connection is still there")
			}
		})
	}
}

// raceHeld runs first while hold, in a transaction of the test, keeps it waiting; it runs
// second once first waits, lets first go once second waits too, and returns both errors.
func (e *env) raceHeld(t *testing.T, hold func(context.Context, *ent.Tx), first, second func() error) (firstErr, secondErr error) {
	t.Helper()
	ctx := context.Background()
	gate, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Rollback()
	hold(ctx, gate)
	firstDone, secondDone := make(chan error, 1), make(chan error, 1)
	go func() { firstDone <- first() }()
	if err, ended := e.waitForLockWaiters(t, 1, firstDone); ended {
		t.Fatalf("the first call did not wait for the held row: %v", err)
	}
	go func() { secondDone <- second() }()
	if err, ended := e.waitForLockWaiters(t, 2, secondDone); ended {
		t.Fatalf("the second call did not wait for the first: %v", err)
	}
	if err := gate.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case firstErr = <-firstDone:
		case secondErr = <-secondDone:
		case <-time.After(30 * time.Second):
			t.Fatal("the two calls still wait for each other")
		}
	}
	return firstErr, secondErr
}

// An import run, or its rollback, racing the closing of an account it concerns neither
// deadlocks nor fails: both go through. The run locks the application and then writes the
// rows of that application (it refreshes the person's connection, stores pending links, its
// rows and its source), the rollback locks the application and then ends the connections
// people made from the run's links; neither locks or references a person's row (pending links
// and import rows have no foreign key to anyone, and a connection's update or deletion takes
// no lock of its person). The closing locks the person, then the application, then the
// connection. So the import holding the application while the closing holds the person and
// waits for the application is no cycle: the import never waits for the person. Here the
// import waits, with the application locked, for a row the test holds, and the closing, with
// the person locked, for the application. PostgreSQL only.
func TestImportsRacingAccountDeletionDoNotDeadlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.PostgresOnly(t))
	developer := &portal.Service{DB: e.db, RelayDomain: "relay.example.com", Now: func() time.Time { return now }}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// prepare connects person to app and returns the import operation with the hold that
		// makes it wait once it holds the application.
		prepare func(person *ent.User, app *ent.Application) (op func() error, hold func(context.Context, *ent.Tx))
	}{
		{name: "an import refreshing the person's connection",
			prepare: func(person *ent.User, app *ent.Application) (func() error, func(context.Context, *ent.Tx)) {
				conn := e.connect(person, app, person.Email)
				return func() error {
						r, err := developer.Import(as(e.dev), app.ID, portal.ImportRequest{
							Users: []portal.ImportUser{{ExternalUserID: "u-1", Email: person.Email}}})
						if err == nil && r.Rows[0].Status != portal.ImportAlreadyConnected {
							err = fmt.Errorf("row answered %s, want %s", r.Rows[0].Status, portal.ImportAlreadyConnected)
						}
						return err
					}, func(ctx context.Context, tx *ent.Tx) {
						tx.AppConnection.Query().Where(appconnection.ID(conn.ID)).ForUpdate().OnlyX(ctx)
					}
			}},
		{name: "a rollback of an import the person accepted",
			prepare: func(person *ent.User, app *ent.Application) (func() error, func(context.Context, *ent.Tx)) {
				src := e.db.ImportSource.Create().SetApplicationID(app.ID).SetName("crm").SetCreatedAt(now).SaveX(ctx)
				conn := e.connect(person, app, "")
				e.db.AppConnection.UpdateOne(conn).SetImportSourceID(src.ID).ExecX(ctx)
				return func() error {
					r, err := developer.RollbackImport(as(e.dev), app.ID, src.ID)
					if err == nil && r.DeletedConnections != 1 {
						err = fmt.Errorf("%d connections ended, want 1", r.DeletedConnections)
					}
					return err
				}, holdConsent(e, conn)
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			person := e.user("imported-" + ids.RandomLower(6) + "@example.com")
			op, hold := c.prepare(person, e.app("importing-"+ids.RandomLower(6)))
			closing := func() error { _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); return err }
			opErr, closingErr := e.raceHeld(t, hold, op, closing)
			if opErr != nil {
				t.Errorf("%s: %v", c.name, opErr)
			}
			if closingErr != nil {
				t.Errorf("closing the account: %v", closingErr)
			}
			if n := connectionsOf(e.db, person); n != 0 {
				t.Errorf("%d connections of the closed account left", n)
			}
		})
	}
}

// A status sync granting a new plan to a person whose account is closing at that moment: the
// closing goes through and the sync answers NotFound. The sync reads the plan's variant before
// it locks anything, and the test holds that read (an exclusive lock of the variants' table);
// then the closing starts. The sync locks the application before the connection, as the
// closing does after the person, so the closing does not wait for the sync. Before, the sync
// had locked the connection before that read and locked the application for update after it:
// the closing took the person and the application's key share meanwhile and waited for the
// connection, the sync waited for the application, and PostgreSQL aborted one of the two
// (deadlock detected, an internal error). PostgreSQL only.
func TestStatusSyncRacingAccountDeletionDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.PostgresOnly(t))
	ctx := context.Background()
	person := e.user("subscriber@example.com")
	app := e.app("plans-" + ids.RandomLower(6))
	e.connect(person, app, "")
	svc := licenses.New(e.db, nil, func() time.Time { return now })

	gate, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Rollback()
	if _, err := gate.ExecContext(ctx, "LOCK TABLE "+licensevariant.Table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	synced := make(chan error, 1)
	go func() {
		_, err := svc.SyncStatus(auth.WithClient(ctx, auth.Client{ApplicationID: app.ID}), app.ID, person.GlobalID,
			licenses.StatusInput{Status: "PREMIUM"})
		synced <- err
	}()
	if err, ended := e.waitForLockWaiters(t, 1, synced); ended {
		t.Fatalf("the sync did not wait for the held table: %v", err)
	}
	closed := make(chan error, 1)
	go func() { _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); closed <- err }()
	// The closing either finishes (it waits for nothing of the sync's) or, as before, waits
	// for the connection the sync holds.
	closingErr, closedFirst := e.waitForLockWaiters(t, 2, closed)
	if err := gate.Rollback(); err != nil {
		t.Fatal(err)
	}
	if !closedFirst {
		closingErr = within(t, closed)
	}
	syncErr := within(t, synced)
	if closingErr != nil {
		t.Errorf("closing the account: %v", closingErr)
	}
	if !apperr.Is(syncErr, apperr.NotFound) {
		t.Errorf("syncing the status: %v, want NotFound", syncErr)
	}
	if n := connectionsOf(e.db, person); n != 0 {
		t.Errorf("%d connections of the closed account left", n)
	}
}

// within returns what done delivers, failing the test if that takes 30 s.
func within(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting for each other")
		return nil
	}
}
