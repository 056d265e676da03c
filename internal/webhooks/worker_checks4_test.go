package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// waitForSignal waits, up to a bound, until c has a value, and fails the test without one.
func waitForSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
	}
}

// Once the endpoint answers 410 Gone, the events of the same batch not yet sent are not sent
// to it.
func TestAGoneEndpointGetsNoMoreOfItsBatch(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		r.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		f := newFixture(t, db, r.URL)
		ids := f.enqueue(t, f.app, 3)
		if _, err := f.worker(db, func(c *webhooks.WorkerConfig) { c.Parallel, c.PerOwner = 1, 4 }).DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(r.Hits()); n != 1 {
			t.Errorf("the endpoint got %d requests after its 410, want only the first (1)", n)
		}
		for _, id := range ids {
			if ev := f.event(t, id); ev.Status != webhookevent.StatusDisabled {
				t.Errorf("event %s: %s, want disabled", id, ev.Status)
			}
		}
	})
}

// A batch whose applications cannot be loaded gives its delivery slots back: the running
// worker goes on claiming and delivers the next event.
func TestABatchWhoseApplicationsCannotBeLoadedFreesItsSlots(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		delivered := make(chan struct{}, 10)
		r.setAnswer(func(hit, int) (int, http.Header) {
			delivered <- struct{}{}
			return http.StatusNoContent, nil
		})
		f := newFixture(t, db, r.URL)
		var fail atomic.Bool
		db.Application.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				if fail.CompareAndSwap(true, false) {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Query(ctx, q)
			})
		}))
		f.enqueue(t, f.app, 2)
		fail.Store(true)
		// (The failed batch's claim holds until its lease ends: the owner's cap leaves room.)
		w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Parallel, c.Batch, c.PerOwner = 1, 1, 4 })
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { w.Run(ctx); close(stopped) }()
		defer func() { cancel(); <-stopped }()
		waitForSignal(t, delivered, "delivery after the failed load")
		if fail.Load() {
			t.Fatal("the applications' load did not fail")
		}
	})
}

// A running worker holds no more claims than its Parallel slots, whatever its Batch.
func TestARunningWorkerClaimsNoMoreThanItsSlots(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		entered, release := make(chan struct{}, 10), make(chan struct{})
		r.setAnswer(func(hit, int) (int, http.Header) {
			entered <- struct{}{}
			<-release
			return http.StatusNoContent, nil
		})
		f := newFixture(t, db, r.URL)
		f.enqueue(t, f.app, 3)
		// (The caps on claims would hold it to one anyway: they leave room.)
		w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Parallel, c.Batch, c.PerApplication, c.PerOwner = 1, 8, 8, 8 })
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { w.Run(ctx); close(stopped) }()
		defer func() { cancel(); close(release); <-stopped }()
		waitForSignal(t, entered, "delivery")
		n, err := db.WebhookEvent.Query().Where(webhookevent.LockedUntilNotNil()).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d events claimed by a worker of one slot, want 1", n)
		}
	})
}

// Housekeeping runs when the worker starts, before its first claim.
func TestHousekeepingRunsWhenTheWorkerStarts(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "https://a.example/hook")
		var runs atomic.Int32
		w := f.worker(db, func(c *webhooks.WorkerConfig) {
			c.Housekeeping = func(context.Context) { runs.Add(1) }
		})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w.Run(ctx)
		if n := runs.Load(); n != 1 {
			t.Errorf("housekeeping ran %d times in a worker's start, want 1", n)
		}
	})
}

// DeliverNow leaves alone an event another worker's live claim holds, and one not due yet.
func TestDeliverNowLeavesAClaimedOrFutureEvent(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newReceiver(t)
		f := newFixture(t, db, r.URL)
		claimed := f.enqueue(t, f.app, 1)[0]
		if evs, err := f.worker(db).Claim(ctx, 1); err != nil || len(evs) != 1 {
			t.Fatalf("claim: %d, %v", len(evs), err)
		}
		later := f.enqueue(t, f.app, 1)[0]
		if err := db.WebhookEvent.UpdateOneID(later).SetNextAttemptAt(f.clock.Now().Add(time.Hour)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		w := f.worker(db)
		for _, id := range []string{claimed, later} {
			if sent, err := w.DeliverNow(ctx, id); sent || err != nil {
				t.Errorf("DeliverNow(%s) = %v, %v; want false, nil", id, sent, err)
			}
		}
		if n := len(r.Hits()); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})
}

// A claim's lease is never shorter than two attempts' timeout, so that another worker does not
// claim the event while its attempt may still be under way.
func TestALeaseIsNeverShorterThanTwoAttemptTimeouts(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://a.example/hook")
		f.enqueue(t, f.app, 1)
		short := func(c *webhooks.WorkerConfig) { c.Lease, c.Timeout = time.Second, 10*time.Second }
		if evs, err := f.worker(db, short).Claim(ctx, 1); err != nil || len(evs) != 1 {
			t.Fatalf("claim: %d, %v", len(evs), err)
		}
		f.clock.Advance(19 * time.Second)
		if evs, err := f.worker(db, short).Claim(ctx, 1); err != nil || len(evs) != 0 {
			t.Errorf("a second worker claimed %d events 19 s into a claim of 10 s attempts (%v), want none", len(evs), err)
		}
	})
}
