// Package groupcommit runs concurrent writes together: the first caller of an idle queue
// flushes every item queued meanwhile as one batch, then the next, until its own item is
// done, and hands on to the first caller still waiting. Under load one flush serves many
// callers (one commit, one round trip); a lone caller flushes at once, waiting for nobody.
// The refresh rotations (package oauth) and the Redis calls (package kv) use it.
//
// Before it takes each batch, the flushing caller yields its processor once
// (runtime.Gosched): the goroutines that are ready to run, requests a few steps short of
// their own write, reach the queue first and share the batch instead of waiting through
// another. A yield with nothing else to run returns at once. On the 2-core machine of
// docs/performance.md (tenth pass) it raised the refresh grant by about a tenth on SQLite
// (larger rotation batches; fewer transactions).
package groupcommit

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Queue is a group-commit queue of items of type T. The zero value is ready.
type Queue[T any] struct {
	mu      sync.Mutex
	pending []*waiter[T]
	running bool
	// Stats is what the queue has done so far, for the metrics.
	Stats Stats
}

// Stats counts a queue's batches and sums its times, read at any moment: the mean batch is
// Items/Batches, the mean flush Flush/Batches, and the mean time a caller spent in Do
// (waiting for the batch ahead, then its own) Wait/Items.
type Stats struct {
	Batches, Items atomic.Int64
	Flush, Wait    atomic.Int64 // nanoseconds
}

type waiter[T any] struct {
	item T
	done chan struct{} // closed when the item's batch was flushed
	lead chan struct{} // closed when the item's caller is to flush the next batch
}

// Do queues item and returns once a batch holding it has been flushed. flush gets batches
// of at most max items and reports each item's outcome through the item itself. start runs
// when a caller takes over an idle queue, drained when the queue is empty again; both run
// under the queue's lock, and either may be nil.
func (q *Queue[T]) Do(item T, max int, flush func(batch []T), start, drained func()) {
	since := time.Now()
	defer func() { q.Stats.Wait.Add(int64(time.Since(since))) }()
	me := &waiter[T]{item: item, done: make(chan struct{}), lead: make(chan struct{})}
	q.mu.Lock()
	q.pending = append(q.pending, me)
	lead := !q.running
	q.running = true
	if lead && start != nil {
		start()
	}
	q.mu.Unlock()
	if !lead {
		select {
		case <-me.done:
			return
		case <-me.lead:
		}
	}
	for {
		runtime.Gosched()
		q.mu.Lock()
		batch := slices.Clone(q.pending[:min(len(q.pending), max)])
		q.pending = q.pending[len(batch):]
		q.mu.Unlock()
		items := make([]T, len(batch))
		for i, w := range batch {
			items[i] = w.item
		}
		began := time.Now()
		flush(items)
		q.Stats.Flush.Add(int64(time.Since(began)))
		q.Stats.Batches.Add(1)
		q.Stats.Items.Add(int64(len(items)))
		for _, w := range batch {
			close(w.done)
		}
		if !slices.Contains(batch, me) {
			continue
		}
		q.mu.Lock()
		if len(q.pending) > 0 {
			close(q.pending[0].lead)
		} else {
			q.running = false
			if drained != nil {
				drained()
			}
		}
		q.mu.Unlock()
		return
	}
}

// Idle runs f under the queue's lock when no batch is being flushed, and reports whether it
// did.
func (q *Queue[T]) Idle(f func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running {
		return false
	}
	f()
	return true
}
