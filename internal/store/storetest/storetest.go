// Package storetest opens throwaway databases for tests: an in-memory SQLite always, and a
// fresh PostgreSQL database when LOGINSIGN_TEST_DATABASE_URL names a server.
package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// EnvPostgres names the PostgreSQL server tests may create databases on.
const EnvPostgres = "LOGINSIGN_TEST_DATABASE_URL"

// Run runs fn once per backend as a subtest named "sqlite" or "postgres".
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if base := os.Getenv(EnvPostgres); base != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, base)) })
	}
}

// URLs returns the database URLs of the backends, each fresh: "sqlite" (a file in a temporary
// directory) always, "postgres" when the environment names a server. Use it for tests that
// start a whole server or run commands.
func URLs(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{"sqlite": "sqlite://" + filepath.Join(t.TempDir(), "loginsign.db")}
	if base := os.Getenv(EnvPostgres); base != "" {
		out["postgres"] = FreshPostgres(t, base)
	}
	return out
}

// SQLite opens and migrates a fresh in-memory SQLite database.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return Open(t, "sqlite://:memory:"+ids.New("t"))
}

// Postgres opens and migrates a fresh database on the server of base.
func Postgres(t testing.TB, base string) *store.DB {
	t.Helper()
	return Open(t, FreshPostgres(t, base))
}

// PostgresOnly is Postgres on the server EnvPostgres names, for a test of what only
// PostgreSQL can do (SQLite transactions take turns, so its races cannot happen there); it
// skips the test when EnvPostgres is unset.
func PostgresOnly(t testing.TB) *store.DB {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " names no PostgreSQL")
	}
	return Postgres(t, base)
}

// Open opens and migrates rawURL and closes it when the test ends.
func Open(t testing.TB, rawURL string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrating test database: %v", err)
	}
	return db
}

// FreshPostgres creates an empty database on the server of base and returns its URL. The
// database is dropped when the test ends.
func FreshPostgres(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	name := ids.New("ls_test_")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

// AwaitLockWaiters waits until at least n sessions of db's PostgreSQL database (a fresh one
// per test, so only the test's own) wait for a lock: the test holds a lock, and the call it
// races is now blocked on it. When the call ends first, without waiting, it returns what
// done delivered and true.
func AwaitLockWaiters[T any](tb testing.TB, db *store.DB, n int, done <-chan T) (early T, ended bool) {
	tb.Helper()
	for {
		select {
		case early = <-done:
			return early, true
		default:
		}
		var waiting int
		if err := db.SQL.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			tb.Fatal(err)
		}
		if waiting >= n {
			return early, false
		}
		time.Sleep(time.Millisecond)
	}
}
