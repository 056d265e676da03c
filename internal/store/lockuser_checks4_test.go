package store_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// LockUser and HoldUser read the account, and a missing one is apperr.NotFound ("user not
// found"), on every backend; HoldApplications takes what exists.
func TestLockingReadsTheAccount(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := db.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").SaveX(ctx)
		app := db.Application.Create().SetOwnerID(u.ID).SetName("A").SetSecretHash("h").SaveX(ctx)
		for name, lock := range map[string]func(context.Context, *ent.Tx, string, string) (*ent.User, error){
			"LockUser": store.LockUser, "HoldUser": store.HoldUser,
		} {
			err := db.Tx(ctx, func(tx *ent.Tx) error {
				got, err := lock(ctx, tx, db.Dialect, u.ID)
				if err != nil || got.ID != u.ID {
					t.Errorf("%s = %v, %v; want the account", name, got, err)
				}
				_, err = lock(ctx, tx, db.Dialect, "usr_missing")
				if !apperr.Is(err, apperr.NotFound) || !strings.Contains(err.Error(), "user not found") {
					t.Errorf("%s of a missing account: %v, want NotFound", name, err)
				}
				return store.HoldApplications(ctx, tx, db.Dialect, application.ID(app.ID))
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// begin starts a transaction the test ends (rolled back at cleanup if still open).
func begin(t *testing.T, db *store.DB) *ent.Tx {
	t.Helper()
	tx, err := db.Client.Tx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

// locked runs lock in a transaction of its own and reports, through the returned channel,
// when it has the lock; the transaction ends with the test (a lock still awaited is given up
// first).
func locked(t *testing.T, db *store.DB, lock func(ctx context.Context, tx *ent.Tx) error) <-chan error {
	tx := begin(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- lock(ctx, tx) }()
	return done
}

// On PostgreSQL, LockUser locks the account's row until the transaction ends: a second
// LockUser waits, and goes on once the first transaction ends.
func TestLockUserWaitsForAnotherLockUser(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	ctx := context.Background()
	u := db.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").SaveX(ctx)
	lockUser := func(ctx context.Context, tx *ent.Tx) error {
		_, err := store.LockUser(ctx, tx, db.Dialect, u.ID)
		return err
	}

	first := begin(t, db)
	if err := lockUser(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := locked(t, db, lockUser)
	if err, ended := storetest.AwaitLockWaiters(t, db, 1, second); ended {
		t.Fatalf("a second LockUser did not wait for the first (%v)", err)
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("the second LockUser after the first ended: %v", err)
	}
}

// On PostgreSQL, HoldUser's share lock lets other holders through, and LockUser waits for it.
func TestHoldUserLetsHoldersThroughAndHoldsOffLockUser(t *testing.T) {
	t.Parallel()
	db2 := storetest.PostgresOnly(t)
	ctx := context.Background()
	u2 := db2.User.Create().SetGlobalID("CD5678").SetEmail("b@example.com").SaveX(ctx)
	holder := begin(t, db2)
	if _, err := store.HoldUser(ctx, holder, db2.Dialect, u2.ID); err != nil {
		t.Fatal(err)
	}
	other := locked(t, db2, func(ctx context.Context, tx *ent.Tx) error {
		_, err := store.HoldUser(ctx, tx, db2.Dialect, u2.ID)
		return err
	})
	if _, ended := storetest.AwaitLockWaiters(t, db2, 1, other); !ended {
		t.Fatal("a second HoldUser waited for the first")
	}
	lock := locked(t, db2, func(ctx context.Context, tx *ent.Tx) error {
		_, err := store.LockUser(ctx, tx, db2.Dialect, u2.ID)
		return err
	})
	if err, ended := storetest.AwaitLockWaiters(t, db2, 1, lock); ended {
		t.Fatalf("LockUser did not wait for HoldUser's holders (%v)", err)
	}
}

// On PostgreSQL, HoldApplications takes a key share of the applications: other holders and
// updates of the application's other columns go on, a lock of the application's row for
// update (a developer deleting it, team.AuthorizeTx) waits. (The rename and the lock are of
// two applications held together: the lock would wait for the rename too.)
func TestHoldApplicationsHoldsOffOnlyTheApplicationsLockers(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	ctx := context.Background()
	dev := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(ctx)
	app := db.Application.Create().SetOwnerID(dev.ID).SetName("A").SetSecretHash("h").SaveX(ctx)
	other := db.Application.Create().SetOwnerID(dev.ID).SetName("B").SetSecretHash("h").SaveX(ctx)
	hold := func(ctx context.Context, tx *ent.Tx) error {
		return store.HoldApplications(ctx, tx, db.Dialect, application.IDIn(app.ID, other.ID))
	}
	if err := hold(ctx, begin(t, db)); err != nil {
		t.Fatal(err)
	}
	if _, ended := storetest.AwaitLockWaiters(t, db, 1, locked(t, db, hold)); !ended {
		t.Fatal("a second HoldApplications waited for the first")
	}
	rename := locked(t, db, func(ctx context.Context, tx *ent.Tx) error {
		return tx.Application.UpdateOneID(app.ID).SetName("A2").Exec(ctx)
	})
	if _, ended := storetest.AwaitLockWaiters(t, db, 1, rename); !ended {
		t.Fatal("a rename of the application waited for its holders")
	}
	lock := locked(t, db, func(ctx context.Context, tx *ent.Tx) error {
		_, err := tx.Application.Query().Where(application.ID(other.ID)).ForUpdate().Only(ctx)
		return err
	})
	if err, ended := storetest.AwaitLockWaiters(t, db, 1, lock); ended {
		t.Fatalf("a lock of the application for update did not wait for its holders (%v)", err)
	}
}
