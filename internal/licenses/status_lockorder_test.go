package licenses_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/consent"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// A status sync for a person whose connection the developer is ending at that moment
// (portal.DeleteConnection) waits for the ending and then answers NotFound, whether its plan
// is new (the sync creates the variant) or known (it only adds the license); neither call
// fails and no license is left. Both lock the application, then the connection. Before, the
// sync locked the connection first and then the application (for the new variant, or the
// license's foreign key) while the developer held the application and waited for the
// connection: PostgreSQL aborted one of the two (deadlock detected, SQLSTATE 40P01, an
// internal error). The test holds the connection's consent, so the ending waits there with
// the application locked; the sync starts then, and the test lets the ending go once the
// sync waits too. PostgreSQL only: SQLite transactions take turns.
func TestStatusSyncWhileTheDeveloperEndsTheConnectionDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	w := newWorld(t, db)
	developer := &portal.Service{DB: db, Now: w.clock.Now}
	w.variant(t, "GOLD", "")
	ctx := context.Background()
	for _, c := range []struct{ name, plan string }{{"a new plan", "SILVER"}, {"a known plan", "GOLD"}} {
		t.Run(c.name, func(t *testing.T) {
			ann := w.person(t, "ann")
			conn := w.connect(t, ann, w.app)
			db.Consent.Create().SetConnectionID(conn.ID).SetScopes([]string{"openid"}).ExecX(ctx)
			gate, err := db.Client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer gate.Rollback()
			gate.Consent.Query().Where(consent.ConnectionID(conn.ID)).ForUpdate().OnlyX(ctx)

			ended := make(chan error, 1)
			// Ending a connection needs a recent sign-in.
			signedIn := auth.WithSession(ctx, auth.Session{UserID: w.dev.ID, ID: "test", SignedInAt: w.clock.Now()})
			go func() { ended <- developer.DeleteConnection(signedIn, w.app.ID, conn.ID) }()
			if err, done := storetest.AwaitLockWaiters(t, db, 1, ended); done {
				t.Fatalf("the ending did not wait for the held consent: %v", err)
			}
			synced := make(chan error, 1)
			go func() {
				_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: c.plan})
				synced <- err
			}()
			if err, done := storetest.AwaitLockWaiters(t, db, 2, synced); done {
				t.Fatalf("the sync did not wait for the ending: %v", err)
			}
			if err := gate.Rollback(); err != nil {
				t.Fatal(err)
			}
			var endErr, syncErr error
			for range 2 {
				select {
				case endErr = <-ended:
				case syncErr = <-synced:
				case <-time.After(30 * time.Second):
					t.Fatal("the ending and the sync still wait for each other")
				}
			}
			if endErr != nil {
				t.Errorf("ending the connection: %v", endErr)
			}
			if !apperr.Is(syncErr, apperr.NotFound) {
				t.Errorf("syncing the status: %v, want NotFound", syncErr)
			}
			if n := db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).CountX(ctx); n != 0 {
				t.Errorf("%d licenses linked to the ended connection", n)
			}
		})
	}
}

// Two grants of a plan whose variant the developer deletes while the grants wait for the
// application (as DeleteVariant holds it) both go through, and the plan gets one new variant.
// Each grant saw the variant before it locked anything, so it took only a key share of the
// application; it must not then create the variant under that share (creating takes the
// application for update, and each grant would wait for the other's share): it starts over
// and creates it with the application locked for that. PostgreSQL only.
func TestStatusSyncsOfAVariantDeletedMeanwhileRecreateIt(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	w := newWorld(t, db)
	ctx := context.Background()
	gold := w.variant(t, "GOLD", "")
	people := []*ent.User{w.person(t, "ann"), w.person(t, "bob")}
	for _, p := range people {
		w.connect(t, p, w.app)
	}
	deletion, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer deletion.Rollback()
	deletion.Application.Query().Where(application.ID(w.app.ID)).ForUpdate().OnlyX(ctx)
	deletion.LicenseVariant.DeleteOneID(gold.ID).ExecX(ctx)

	synced := make(chan error, len(people))
	for i, p := range people {
		go func() {
			_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, p.GlobalID, licenses.StatusInput{Status: "GOLD"})
			synced <- err
		}()
		if err, done := storetest.AwaitLockWaiters(t, db, i+1, synced); done {
			t.Fatalf("grant %d did not wait for the deletion: %v", i+1, err)
		}
	}
	if err := deletion.Commit(); err != nil {
		t.Fatal(err)
	}
	for range people {
		select {
		case err := <-synced:
			if err != nil {
				t.Errorf("granting GOLD: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the grants still wait for each other")
		}
	}
	vs := db.LicenseVariant.Query().Where(licensevariant.ApplicationID(w.app.ID), licensevariant.NameKey("gold")).AllX(ctx)
	if len(vs) != 1 || vs[0].ID == gold.ID {
		t.Fatalf("GOLD variants after the deletion: %v, want one new one", vs)
	}
	if n := db.LicenseCode.Query().Where(licensecode.VariantID(vs[0].ID), licensecode.StateEQ(licensecode.StateACTIVE)).CountX(ctx); n != len(people) {
		t.Errorf("%d GOLD licenses in effect, want %d", n, len(people))
	}
}
