// Package store opens the SQL database behind DATABASE_URL and converts ent's errors into the
// domain's. SQLite (pure Go, WAL, foreign keys on) is the embedded default; PostgreSQL (pgx) is
// the production database.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"entgo.io/ent/dialect"
	_ "github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"loginsign/ent"
	"loginsign/internal/apperr"
)

// DB is an open database.
type DB struct {
	*ent.Client
	SQL     *sql.DB
	Dialect string
}

// Open connects to rawURL: sqlite://PATH (relative or absolute; sqlite://:memory:NAME for a
// shared in-memory database) or postgres://…. It does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(rawURL, "sqlite://"))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	default:
		return nil, fmt.Errorf("DATABASE_URL %q: want sqlite://PATH or postgres://…", redact(rawURL))
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("DATABASE_URL sqlite://: missing path")
	}
	params := "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_txlock=immediate"
	var dsn string
	if name, ok := strings.CutPrefix(path, ":memory:"); ok {
		if name == "" {
			name = "loginsign"
		}
		dsn = "file:" + url.PathEscape(name) + "?mode=memory&cache=shared&" + params
	} else {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating database directory: %w", err)
			}
		}
		if err := ownerOnly(path); err != nil {
			return nil, err
		}
		dsn = "file:" + path + "?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db := sql.OpenDB(newCachingConnector(dsn, &sqlite.Driver{}))
	// SQLite has one writer; a small pool keeps writers queueing on busy_timeout rather than
	// failing, while WAL lets readers proceed.
	db.SetMaxOpenConns(8)
	// As many idle as open: reopening a connection (and its pragmas) costs more than a query.
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	return wrap(db, dialect.SQLite), nil
}

// ownerOnly creates the database file at path readable and writable by its owner only, or
// takes group and other permissions off an existing one. SQLite would create it, and its
// -wal and -shm files (which take the database file's permissions), with the process umask,
// commonly 0644: readable by every local user, with every person's addresses, the masks of
// their relay aliases and their sign-in history, wherever the directory is not 0700 already
// (a volume, a systemd StateDirectory, a DATABASE_URL elsewhere).
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(info.Mode().Perm() &^ 0o077); err != nil {
			return fmt.Errorf("making sqlite %s private to its owner: %w", path, err)
		}
	}
	// A -wal or -shm file left by an earlier run keeps its own permissions.
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if info, err := os.Stat(side); err == nil && info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(side, info.Mode().Perm()&^0o077); err != nil {
				return fmt.Errorf("making %s private to its owner: %w", side, err)
			}
		}
	}
	return nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	// As many idle as open, so a burst does not close connections the next one reopens.
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to postgres %s: %w", redact(rawURL), err)
	}
	return wrap(db, dialect.Postgres), nil
}

// Warm opens up to n connections at once and returns them to the pool idle (as many as it
// keeps), so that the first burst of requests after a start does not wait for PostgreSQL to
// start a backend for each: in four load runs, the first 8 s of GET /api/user at 16
// connections after a start had a p99 of 120–260 ms, and 3.9 ms once warm. A connection
// that fails is skipped; it returns how many it opened. SQLite opens a connection in
// microseconds and is left alone.
func (db *DB) Warm(ctx context.Context, n int) int {
	if db.Dialect != dialect.Postgres || n <= 0 {
		return 0
	}
	conns := make(chan *sql.Conn, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if c, err := db.SQL.Conn(ctx); err == nil { // a new one is connected, handshake done
				conns <- c
			}
		})
	}
	wg.Wait()
	close(conns)
	opened := 0
	for c := range conns {
		c.Close()
		opened++
	}
	return opened
}

func wrap(db *sql.DB, dia string) *DB {
	drv := entsql.OpenDB(dia, db)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dia}
}

// Migrate applies the schema. On PostgreSQL an advisory lock serialises instances that start
// at once against one database.
func (db *DB) Migrate(ctx context.Context) error {
	if db.Dialect == dialect.Postgres {
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		const lockKey = 0x4c6f67696e5369 // "LoginSi"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return fmt.Errorf("migrate: taking advisory lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey)
	}
	// ent's migration writes to the package-level table descriptions of ent/migrate (it
	// appends their indexes), so two migrations at once in one process race and can panic:
	// tests open many databases in parallel.
	migrating.Lock()
	err := db.Schema.Create(ctx)
	migrating.Unlock()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := backfillAddressClaims(ctx, db); err != nil {
		return err
	}
	if err := unshareUngrantedAddresses(ctx, db); err != nil {
		return err
	}
	if err := endOrphanedProposals(ctx, db); err != nil {
		return err
	}
	if err := forgetImportGlobalIDs(ctx, db); err != nil {
		return err
	}
	if err := dropReplacedWebhookIndex(ctx, db); err != nil {
		return err
	}
	return fillWebhookEventConnections(ctx, db)
}

// migrating serialises Schema.Create within the process (see Migrate).
var migrating sync.Mutex

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close closes the client and its pool.
func (db *DB) Close() error { return db.Client.Close() }

// Tx runs fn in a transaction, committing when it returns nil.
func (db *DB) Tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return WithTx(ctx, db.Client, fn)
}

// WithTx runs fn in a transaction of client, committing when it returns nil and rolling back
// otherwise (also on panic, which it re-raises).
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if v := recover(); v != nil {
			tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// NotFound reports whether err is a storage "no such row" (ent's NotFoundError). Domain code
// asks the store, not ent, which error it got; Err is the usual way to convert it.
func NotFound(err error) bool { return ent.IsNotFound(err) }

// Conflict reports whether err is a constraint violation (a unique key taken, a foreign key
// gone).
func Conflict(err error) bool { return ent.IsConstraintError(err) }

// NotLoaded reports whether err is ent's answer for an edge that was not loaded (an edge's
// …OrErr): a loaded edge may be nil, one not loaded must be read.
func NotLoaded(err error) bool { return ent.IsNotLoaded(err) }

// EmptyWhereInputs are ent's errors for a where input that sets nothing to filter on ({not:
// {or: []}}, {hasApplicationWith: [{}]}), one per where input type of the schema: the
// caller's mistake, found at any depth (ent wraps them with the field's name).
var EmptyWhereInputs = []error{ent.ErrEmptyAppConnectionWhereInput, ent.ErrEmptyApplicationWhereInput,
	ent.ErrEmptyConsentWhereInput, ent.ErrEmptyImportRowWhereInput, ent.ErrEmptyImportSourceWhereInput,
	ent.ErrEmptyLicenseCodeWhereInput, ent.ErrEmptyLicenseVariantWhereInput, ent.ErrEmptyUserWhereInput,
	ent.ErrEmptyUserEmailWhereInput, ent.ErrEmptyWebhookAttemptWhereInput, ent.ErrEmptyWebhookEventWhereInput}

// EmptyFilter reports whether err is (or wraps) one of EmptyWhereInputs.
func EmptyFilter(err error) bool {
	for _, empty := range EmptyWhereInputs {
		if errors.Is(err, empty) {
			return true
		}
	}
	return false
}

// Err converts an ent error into the domain vocabulary: not found → apperr.NotFound with
// "<what> not found", a constraint violation → apperr.Conflict. Other errors pass through.
func Err(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case ent.IsNotFound(err):
		return apperr.New(apperr.NotFound, "%s not found", what)
	case ent.IsConstraintError(err):
		return apperr.New(apperr.Conflict, "%s already exists", what)
	}
	return err
}

// redact hides the password of a database URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
