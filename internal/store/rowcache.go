package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"loginsign/ent"
)

// RowCache keeps rows read from the database in-process for a short time, for the hot
// paths that read the same few rows on every request (client authentication, GET
// /api/user). An entry answers while it is younger than the TTL, no change to the rows'
// tables was seen since it was read (the generation, advanced by Invalidate; see
// InvalidateOnChange), and it was read under the same stamp as the one asked for (a value
// the caller reads elsewhere, e.g. a counter other processes advance; "" when unused).
type RowCache[V any] struct {
	max     int
	gen     atomic.Uint64
	mu      sync.RWMutex
	entries map[string]rowEntry[V]
}

type rowEntry[V any] struct {
	v       V
	gen     uint64
	stamp   string
	expires time.Time
}

// NewRowCache returns a cache that holds at most max entries (when full, a new entry
// replaces an arbitrary one).
func NewRowCache[V any](max int) *RowCache[V] {
	return &RowCache[V]{max: max, entries: map[string]rowEntry[V]{}}
}

// Generation is the current generation; read it before reading a row to Put.
func (c *RowCache[V]) Generation() uint64 { return c.gen.Load() }

// Get returns the entry of key when it is still valid for stamp at now.
func (c *RowCache[V]) Get(key, stamp string, now time.Time) (V, bool) {
	var zero V
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || e.gen != c.gen.Load() || e.stamp != stamp || !now.Before(e.expires) {
		return zero, false
	}
	return e.v, true
}

// Put stores v, read under generation gen and stamp, until expires, unless the generation
// moved since (a change may have been made after the read).
func (c *RowCache[V]) Put(key string, v V, gen uint64, stamp string, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries { // full: one entry makes room (map order: an arbitrary one)
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = rowEntry[V]{v: v, gen: gen, stamp: stamp, expires: expires}
}

// Delete drops the entry of key.
func (c *RowCache[V]) Delete(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// Invalidate drops every entry and starts a new generation.
func (c *RowCache[V]) Invalidate() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// InvalidateOnChange calls changed(ctx, false) when a mutation of one of the entity types
// (ent type names, e.g. "User") is about to be made through db and when it has been made,
// and changed(ctx, true) once the change is durable: after the mutation outside a
// transaction, after the commit inside one. Caches call Invalidate on both; true is the
// moment to tell other processes. Deletions that the database cascades to other tables
// are seen only as the mutation of the type deleted: list it too.
func InvalidateOnChange(db *DB, changed func(ctx context.Context, durable bool), types ...string) {
	db.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !slices.Contains(types, m.Type()) {
				return next.Mutate(ctx, m)
			}
			changed(ctx, false)
			tx, inTx := txOf(m)
			if inTx {
				tx.OnCommit(func(next ent.Committer) ent.Committer {
					return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
						err := next.Commit(ctx, tx)
						changed(ctx, err == nil)
						return err
					})
				})
			}
			v, err := next.Mutate(ctx, m)
			changed(ctx, !inTx && err == nil)
			return v, err
		})
	})
}

// txOf returns the transaction m is made in, if any.
func txOf(m ent.Mutation) (*ent.Tx, bool) {
	txm, ok := m.(interface{ Tx() (*ent.Tx, error) })
	if !ok {
		return nil, false
	}
	tx, err := txm.Tx()
	return tx, err == nil
}
