package storetest

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"modernc.org/sqlite"

	"loginsign/ent"
	"loginsign/internal/store"
)

// Reads is how much a Measured database has read so far: on PostgreSQL, for each measured
// table (keyed by its name), the entries and rows that scans of it returned; on SQLite, which
// counts no rows, the pages of every table together, under AnyTable.
type Reads map[string]int

// AnyTable keys SQLite's one count of pages in Reads.
const AnyTable = "*"

// Of is what was read of table: its rows on PostgreSQL; on SQLite the pages of every table.
func (r Reads) Of(table string) int {
	if n, ok := r[AnyTable]; ok {
		return n
	}
	return r[table]
}

// Minus is what was read since before (an earlier Reads of the same database).
func (r Reads) Minus(before Reads) Reads {
	out := make(Reads, len(r))
	for k, n := range r {
		out[k] = n - before[k]
	}
	return out
}

// Measured opens the migrated database of url (URLs) on a single connection, for a test of how
// much a call reads, and returns reads, which tells how much has been read so far: on
// PostgreSQL, for each of tables, the entries and rows that scans of it returned
// (pg_stat_user_indexes.idx_tup_read and pg_stat_user_tables.seq_tup_read); on SQLite, which
// counts no rows, the pages of any table read (sqlite3_db_status cache hits and misses, on a
// connection the store's statement cache does not wrap). A call that needs a second
// connection while the first is busy (a read outside its transaction) waits for ever.
func Measured(t testing.TB, url string, tables ...string) (db *store.DB, reads func() Reads) {
	t.Helper()
	ctx := context.Background()
	db = Open(t, url)
	if db.Dialect == dialect.Postgres {
		db.SQL.SetMaxOpenConns(1)
		return db, func() Reads {
			t.Helper()
			// The connection's counts reach the statistics when it goes idle: at once, after this.
			if _, err := db.SQL.ExecContext(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
				t.Fatal(err)
			}
			rows, err := db.SQL.QueryContext(ctx, `SELECT t.relname, t.seq_tup_read
				+ COALESCE((SELECT SUM(i.idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = t.relid), 0)
				FROM pg_stat_user_tables t WHERE t.relname = ANY($1)`, tables)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			out := Reads{}
			for rows.Next() {
				var table string
				var n int
				if err := rows.Scan(&table, &n); err != nil {
					t.Fatal(err)
				}
				out[table] = n
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for _, table := range tables {
				if _, ok := out[table]; !ok {
					t.Fatalf("no table %s to measure", table)
				}
			}
			return out
		}
	}
	raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(url, "sqlite://")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetMaxOpenConns(1)
	db = &store.DB{Client: ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, raw))), SQL: raw, Dialect: dialect.SQLite}
	return db, func() Reads {
		t.Helper()
		conn, err := raw.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var n int
		err = conn.Raw(func(dc any) error {
			for _, op := range []sqlite.DBStatusOp{sqlite.DBStatusCacheHit, sqlite.DBStatusCacheMiss} {
				pages, _, err := dc.(sqlite.DBStatus).Status(op, false)
				if err != nil {
					return err
				}
				n += pages
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return Reads{AnyTable: n}
	}
}

// NoMoreThan is what a measured call may read behind a larger table when it read small
// behind a smaller one: on PostgreSQL, which counts rows, no more (behind a small table
// without statistics it may even read all of it); on SQLite, which counts pages, twice as
// many: pages grow with the depth of its B-trees, a page per index search for each level.
func NoMoreThan(db *store.DB, small int) int {
	if db.Dialect == dialect.SQLite {
		return 2 * small
	}
	return small
}
