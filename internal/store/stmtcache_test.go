package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// The SQLite connection wrapper (stmtcache.go): concurrent writers queue on the write gate
// and all commit (no SQLITE_BUSY), a query run again while its rows are still open runs
// unprepared, and more distinct queries than the cache holds evict and keep working.
func TestSQLiteStatementCacheAndWriteQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}

	const writers, each = 24, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				tx, err := db.SQL.BeginTx(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", fmt.Sprint(w, "-", i)); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				var n int
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
				}
				// A write outside a transaction takes the gate too.
				if _, err := db.SQL.ExecContext(ctx, "UPDATE t SET v = v WHERE id = ?", i+1); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writers: %v", err)
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != writers*each {
		t.Fatalf("rows: %d %v, want %d", n, err, writers*each)
	}

	// The same query again while its rows are open, in one transaction (one connection).
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.QueryContext(ctx, "SELECT id FROM t WHERE id <= ? ORDER BY id", 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for outer.Next() {
		var id int
		outer.Scan(&id)
		inner, err := tx.QueryContext(ctx, "SELECT id FROM t WHERE id <= ? ORDER BY id", 2)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for inner.Next() {
			k++
		}
		inner.Close()
		if k != 2 {
			t.Fatalf("inner query while the outer one is open: %d rows, want 2", k)
		}
		seen++
	}
	outer.Close()
	tx.Rollback()
	if seen != 3 {
		t.Fatalf("outer query: %d rows, want 3", seen)
	}

	// More distinct statements than the cache holds, twice over.
	for round := range 2 {
		for i := range stmtCacheSize + 20 {
			var got int
			q := fmt.Sprintf("SELECT count(*) + %d FROM t", i)
			if err := db.SQL.QueryRowContext(ctx, q).Scan(&got); err != nil || got != writers*each+i {
				t.Fatalf("round %d, query %d: %d %v", round, i, got, err)
			}
		}
	}
}
