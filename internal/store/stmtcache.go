package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"time"
)

// The SQLite driver (modernc.org/sqlite) parses and plans every query it is given as text:
// on the token path that parsing cost more than running the statement. cachingConnector
// keeps, per connection, the most recently used statements prepared (an LRU of
// stmtCacheSize) and runs a repeated query on its prepared statement. PostgreSQL needs no
// help: pgx caches prepared statements itself.
//
// A driver connection is used by one goroutine at a time, but a transaction may hold the
// rows of a statement open while it runs the same query again: a statement whose rows are
// still open is busy, and the second query runs unprepared, as before.

// stmtCacheSize bounds the prepared statements kept per connection (ent's queries are a few
// hundred distinct texts; each prepared statement holds a few KiB of SQLite memory).
const stmtCacheSize = 128

type cachingConnector struct {
	dsn  string
	drv  driver.Driver
	gate *writeGate
}

func newCachingConnector(dsn string, drv driver.Driver) cachingConnector {
	return cachingConnector{dsn: dsn, drv: drv, gate: &writeGate{ch: make(chan struct{}, 1)}}
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn, c.gate)
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// writeGate queues this process's SQLite writers in Go. SQLite has one writer; a second
// one that finds the database locked sleeps in the busy handler (1, 2, 5, 10, … ms) and
// polls again, so under concurrent writes most of a transaction's time was spent asleep
// after the lock had come free. Writers of this process instead wait their turn on the
// gate (first come, first served) and are handed it the moment it is released; the busy
// timeout still arbitrates between processes (loginsign's admin commands).
//
// Every transaction takes the gate (BEGIN IMMEDIATE: every transaction may write), and so
// does a write outside a transaction. Waiting is bounded by the context and by
// writeGateTimeout (the busy timeout), after which the write fails as SQLite would.
type writeGate struct{ ch chan struct{} }

// writeGateTimeout is the longest wait for the gate (busy_timeout).
const writeGateTimeout = 10 * time.Second

// errGateTimeout is what a writer that waited too long gets, as SQLite's own.
var errGateTimeout = errors.New("database is locked (SQLITE_BUSY): waited 10s for the writer ahead")

func (g *writeGate) acquire(ctx context.Context) error {
	select {
	case g.ch <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(writeGateTimeout)
	defer t.Stop()
	select {
	case g.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errGateTimeout
	}
}

func (g *writeGate) release() { <-g.ch }

// driverConn is what the wrapped connection must offer.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // its rows are open
	gone  bool // evicted while busy: close when the rows close
	elem  *list.Element
}

type cachingConn struct {
	driverConn
	stmts map[string]*cachedStmt
	lru   list.List // front: most recently used
	gate  *writeGate
	inTx  bool // a transaction is open: it holds the gate
}

// errNotCacheable is returned by newCachingConn for a driver connection that lacks the
// context interfaces; it cannot happen with modernc.org/sqlite.
var errNotCacheable = errors.New("sqlite driver connection lacks the context interfaces")

func newCachingConn(conn driver.Conn, gate *writeGate) (driver.Conn, error) {
	dc, ok := conn.(driverConn)
	if !ok {
		conn.Close()
		return nil, errNotCacheable
	}
	return &cachingConn{driverConn: dc, stmts: map[string]*cachedStmt{}, gate: gate}, nil
}

// BeginTx takes the write gate for the transaction's life.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.gate.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := c.driverConn.BeginTx(ctx, opts)
	if err != nil {
		c.gate.release()
		return nil, err
	}
	c.inTx = true
	return &gatedTx{Tx: tx, done: func() { c.inTx = false; c.gate.release() }}, nil
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// gatedTx releases the write gate when the transaction ends (once).
type gatedTx struct {
	driver.Tx
	ended bool
	done  func()
}

func (t *gatedTx) Commit() error {
	err := t.Tx.Commit()
	t.end()
	return err
}

func (t *gatedTx) Rollback() error {
	err := t.Tx.Rollback()
	t.end()
	return err
}

func (t *gatedTx) end() {
	if !t.ended {
		t.ended = true
		t.done()
	}
}

// writes reports whether query may write (so, outside a transaction, needs the gate).
func writes(query string) bool {
	q := strings.TrimSpace(query)
	if len(q) >= 6 {
		switch strings.ToUpper(q[:6]) {
		case "SELECT":
			return false
		}
	}
	return true
}

// gateOutsideTx takes the gate for a write outside a transaction; the returned function
// releases it (a no-op when nothing was taken).
func (c *cachingConn) gateOutsideTx(ctx context.Context, query string) (func(), error) {
	if c.inTx || !writes(query) {
		return func() {}, nil
	}
	if err := c.gate.acquire(ctx); err != nil {
		return nil, err
	}
	return c.gate.release, nil
}

// cacheable reports whether query is one statement worth keeping: not a script, not DDL or
// a transaction or pragma command.
func cacheable(query string) bool {
	q := strings.TrimSpace(query)
	if strings.Contains(strings.TrimSuffix(q, ";"), ";") || len(q) < 7 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return strings.HasPrefix(strings.ToUpper(q[:5]), "WITH ")
}

// take returns the prepared statement of query, marked busy, or nil when the query should
// run unprepared.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		cs.busy = true
		c.lru.MoveToFront(cs.elem)
		return cs, nil
	}
	if !cacheable(query) {
		return nil, nil
	}
	st, err := c.driverConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := st.(driver.StmtQueryContext); !ok {
		st.Close()
		return nil, nil
	}
	if _, ok := st.(driver.StmtExecContext); !ok {
		st.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: st, busy: true}
	cs.elem = c.lru.PushFront(cs)
	c.stmts[query] = cs
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.stmts, old.query)
		if old.busy {
			old.gone = true
		} else {
			old.stmt.Close()
		}
	}
	return cs, nil
}

// release marks cs free again (closing it if it was evicted meanwhile).
func (c *cachingConn) release(cs *cachedStmt) {
	cs.busy = false
	if cs.gone {
		cs.stmt.Close()
	}
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ungate, err := c.gateOutsideTx(ctx, query)
	if err != nil {
		return nil, err
	}
	cs, err := c.take(ctx, query)
	if err != nil {
		ungate()
		return nil, err
	}
	var rows driver.Rows
	if cs == nil {
		rows, err = c.driverConn.QueryContext(ctx, query, args)
	} else {
		rows, err = cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	}
	if err != nil {
		if cs != nil {
			c.release(cs)
		}
		ungate()
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() {
		if cs != nil {
			c.release(cs)
		}
		ungate()
	}}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ungate, err := c.gateOutsideTx(ctx, query)
	if err != nil {
		return nil, err
	}
	defer ungate()
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.driverConn.ExecContext(ctx, query, args)
	}
	defer c.release(cs)
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// ResetSession and IsValid pass the pool's checks on to the driver.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.driverConn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.driverConn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.driverConn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) Close() error {
	for _, cs := range c.stmts {
		cs.stmt.Close()
	}
	c.stmts = nil
	c.lru.Init()
	return c.driverConn.Close()
}

// cachedRows releases its statement when closed (once).
type cachedRows struct {
	driver.Rows
	released atomic.Bool
	release  func()
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.released.CompareAndSwap(false, true) {
		r.release()
	}
	return err
}

// The column-type interfaces of the driver's rows, which database/sql's ColumnTypes uses.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (length int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
