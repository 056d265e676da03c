package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Every SQLite connection runs with foreign keys on, a busy timeout of 10 s, the WAL journal
// and synchronous NORMAL (the pragmas of the DSN; a file database).
func TestSQLiteConnectionsRunWithTheDatabasePragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "pragmas.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for pragma, want := range map[string]string{
		"foreign_keys": "1", "busy_timeout": "10000", "journal_mode": "wal", "synchronous": "1",
	} {
		var got string
		if err := db.SQL.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

// A SQLite transaction holds the database's writer from its start (BEGIN IMMEDIATE): a write
// from another process (another pool, with a gate of its own) waits until it ends.
func TestASQLiteTransactionHoldsTheWriterFromItsStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "writer.db")
	open := func() *store.DB {
		db, err := store.Open(ctx, "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	first, other := open(), open()
	if _, err := first.SQL.ExecContext(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := first.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := other.SQL.ExecContext(short, "INSERT INTO t (v) VALUES (1)"); err == nil {
		t.Fatal("another process wrote while a transaction that had written nothing yet was open")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.SQL.ExecContext(ctx, "INSERT INTO t (v) VALUES (2)"); err != nil {
		t.Fatalf("write after the transaction ended: %v", err)
	}
}

// A SQLite database in a directory that does not exist yet is created with its directories.
func TestSQLiteDatabaseDirectoriesAreCreated(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "new.db")
	db, err := store.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatalf("opening in a new directory: %v", err)
	}
	defer db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// -wal and -shm files an earlier run left readable by others are made the owner's only.
func TestLeftoverSQLiteSideFilesAreMadeTheOwnersOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	db, err := store.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s is %v, want no permission for group and others", f, perm)
		}
	}
}

// postgresql:// is PostgreSQL as postgres:// is, and no error shows a database URL's
// password.
func TestDatabaseURLsAndTheirPasswords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := store.Open(ctx, "postgresql://loginsign:s3cretpw@127.0.0.1:1/loginsign?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "connecting to postgres") {
		t.Errorf("postgresql:// with no server: %v, want a PostgreSQL connection error", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("the error shows the password: %v", err)
	}
	_, err = store.Open(ctx, "mysql://loginsign:s3cretpw@db.example.com/loginsign")
	if err == nil || strings.Contains(err.Error(), "s3cretpw") || !strings.Contains(err.Error(), "db.example.com") {
		t.Errorf("an unsupported URL: %v, want an error naming it without its password", err)
	}
}

// NotFound and Conflict tell the storage errors apart: a missing row is NotFound only, a
// constraint violation Conflict only, and another error neither.
func TestNotFoundAndConflictTellStorageErrorsApart(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		db.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").ExecX(ctx)
		_, missing := db.User.Get(ctx, "usr_missing")
		taken := db.User.Create().SetGlobalID("AB1234").SetEmail("b@example.com").Exec(ctx)
		other := errors.New("connection reset")
		for _, tc := range []struct {
			name               string
			err                error
			notFound, conflict bool
		}{
			{"missing row", missing, true, false},
			{"unique key taken", taken, false, true},
			{"another error", other, false, false},
			{"no error", nil, false, false},
		} {
			if got := store.NotFound(tc.err); got != tc.notFound {
				t.Errorf("%s: NotFound = %v, want %v", tc.name, got, tc.notFound)
			}
			if got := store.Conflict(tc.err); got != tc.conflict {
				t.Errorf("%s: Conflict = %v, want %v", tc.name, got, tc.conflict)
			}
		}
	})
}

// A panic in a transaction's function rolls the transaction back (its writes are gone and the
// next transaction starts at once) and goes on up to the caller.
func TestAPanicInATransactionRollsItBackAndGoesOn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		type stop struct{}
		func() {
			defer func() {
				if v := recover(); v != (stop{}) {
					t.Errorf("recovered %v, want the transaction's own panic", v)
				}
			}()
			db.Tx(ctx, func(tx *ent.Tx) error {
				tx.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").ExecX(ctx)
				panic(stop{})
			})
			t.Error("Tx returned after its function panicked")
		}()
		next, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		err := db.Tx(next, func(tx *ent.Tx) error {
			return tx.User.Create().SetGlobalID("CD5678").SetEmail("b@example.com").Exec(next)
		})
		if err != nil {
			t.Fatalf("the next transaction: %v", err)
		}
		if n := db.User.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d users, want only the next transaction's", n)
		}
	})
}

// On PostgreSQL a transaction whose statement failed cannot commit, though its function
// swallowed the error: Tx reports the failed commit, and nothing is written.
func TestAFailedCommitIsReported(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	ctx := context.Background()
	db.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").ExecX(ctx)
	err := db.Tx(ctx, func(tx *ent.Tx) error {
		tx.User.Create().SetGlobalID("CD5678").SetEmail("b@example.com").ExecX(ctx)
		_ = tx.User.Create().SetGlobalID("AB1234").SetEmail("c@example.com").Exec(ctx) // fails, swallowed
		return nil
	})
	if err == nil {
		t.Fatalf("Tx = %v, want the failed commit", err)
	}
	if n := db.User.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d users after the failed commit, want 1", n)
	}
}

// Migrate on PostgreSQL waits while another instance holds the migration lock, and goes on
// once it is released.
func TestMigrateWaitsForAnotherInstancesMigration(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	ctx := context.Background()
	const lockKey = 0x4c6f67696e5369 // store.Migrate's
	other, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Migrate(ctx) }()
	if err, ended := storetest.AwaitLockWaiters(t, db, 1, done); ended {
		t.Fatalf("Migrate ended (%v) while another instance held the migration lock", err)
	}
	if _, err := other.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", lockKey); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate after the lock was released: %v", err)
	}
}
