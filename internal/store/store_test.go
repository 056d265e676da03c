package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestContract checks the invariants the data model promises, on every backend.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u1 := db.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").SaveX(ctx)
		u2 := db.User.Create().SetGlobalID("CD5678").SetEmail("b@example.com").SaveX(ctx)
		app := db.Application.Create().SetOwnerID(u1.ID).SetName("A").SetSecretHash("h").SaveX(ctx)
		conn := db.AppConnection.Create().SetUserID(u2.ID).SetApplicationID(app.ID).SetAliasEmail("x9s8d7@relay.example.com").SaveX(ctx)

		for name, err := range map[string]error{
			"duplicate global id":    db.User.Create().SetGlobalID("AB1234").SetEmail("c@example.com").Exec(ctx),
			"duplicate email":        db.User.Create().SetGlobalID("EF0001").SetEmail("a@example.com").Exec(ctx),
			"malformed global id":    db.User.Create().SetGlobalID("ab123").SetEmail("d@example.com").Exec(ctx),
			"second connection":      db.AppConnection.Create().SetUserID(u2.ID).SetApplicationID(app.ID).SetAliasEmail("other@relay.example.com").Exec(ctx),
			"duplicate alias":        db.AppConnection.Create().SetUserID(u1.ID).SetApplicationID(app.ID).SetAliasEmail("x9s8d7@relay.example.com").Exec(ctx),
			"connection to no app":   db.AppConnection.Create().SetUserID(u1.ID).SetApplicationID("app_missing").SetAliasEmail("y@relay.example.com").Exec(ctx),
			"duplicate variant name": dupVariant(ctx, db, app.ID),
			"duplicate code":         dupCode(ctx, db, app.ID),
		} {
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if !strings.HasPrefix(conn.ID, "con_") || len(conn.ID) != 28 {
			t.Errorf("connection id %q is not opaque con_ + 24 characters", conn.ID)
		}
		_, err := db.User.Get(ctx, "usr_missing")
		if !apperr.Is(store.Err(err, "user"), apperr.NotFound) {
			t.Errorf("Err(not found) = %v", store.Err(err, "user"))
		}
		err = db.User.Create().SetGlobalID("AB1234").SetEmail("z@example.com").Exec(ctx)
		if !apperr.Is(store.Err(err, "user"), apperr.Conflict) {
			t.Errorf("Err(constraint) = %v", store.Err(err, "user"))
		}
		// Rolled-back transactions leave nothing behind.
		err = db.Tx(ctx, func(tx *ent.Tx) error {
			tx.User.Create().SetGlobalID("GH0001").SetEmail("t@example.com").ExecX(ctx)
			return apperr.New(apperr.Invalid, "stop")
		})
		if !apperr.Is(err, apperr.Invalid) || db.User.Query().CountX(ctx) != 2 {
			t.Errorf("rollback: err %v, %d users", err, db.User.Query().CountX(ctx))
		}
	})
}

func dupVariant(ctx context.Context, db *store.DB, appID string) error {
	db.LicenseVariant.Create().SetApplicationID(appID).SetName("Pro").SetNameKey("pro").ExecX(ctx)
	return db.LicenseVariant.Create().SetApplicationID(appID).SetName("PRO").SetNameKey("pro").Exec(ctx)
}

func dupCode(ctx context.Context, db *store.DB, appID string) error {
	v := db.LicenseVariant.Create().SetApplicationID(appID).SetName("Team").SetNameKey("team").SaveX(ctx)
	db.LicenseCode.Create().SetApplicationID(appID).SetVariantID(v.ID).SetCode("AAAA-BBBB").SetCodeKey("AAAABBBB").ExecX(ctx)
	return db.LicenseCode.Create().SetApplicationID(appID).SetVariantID(v.ID).SetCode("aaaabbbb").SetCodeKey("AAAABBBB").Exec(ctx)
}

// TestConcurrentMigrate: instances starting at once against one PostgreSQL all migrate
// cleanly (the advisory lock serialises them).
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip("needs " + storetest.EnvPostgres)
	}
	url := storetest.FreshPostgres(t, base)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := store.Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(context.Background())
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

// TestWarmOpensIdleConnections: Warm leaves n PostgreSQL connections idle in the pool, ready
// for a first burst; on SQLite it does nothing.
func TestWarmOpensIdleConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if n := storetest.SQLite(t).Warm(ctx, 4); n != 0 {
		t.Fatalf("Warm on SQLite opened %d connections, want 0", n)
	}
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip("needs PostgreSQL: set " + storetest.EnvPostgres)
	}
	db := storetest.Postgres(t, base)
	before := db.SQL.Stats().OpenConnections
	if n := db.Warm(ctx, 6); n != 6 {
		t.Fatalf("Warm opened %d connections, want 6", n)
	}
	if st := db.SQL.Stats(); st.OpenConnections < max(before, 6) || st.Idle < 6 {
		t.Fatalf("after Warm(6): %d open, %d idle (%d open before), want at least 6 idle", st.OpenConnections, st.Idle, before)
	}
}

// The SQLite database, with its -wal and -shm files, is readable by its owner only, whatever
// the umask and the directory's permissions: it holds every person's addresses. One an earlier
// run left open to others is closed to them.
func TestSQLiteFilesAreTheOwnersOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(path string) {
		t.Helper()
		db, err := store.Open(context.Background(), "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
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
	check(dir + "/new.db")
	old := dir + "/old.db"
	if err := os.WriteFile(old, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(old)
}
