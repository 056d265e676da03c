package webhooks_test

import (
	"context"
	"sync/atomic"
	"testing"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/webhooks"
)

// cancelAfterCommit cancels the context it returns at the first event query or claim after
// a redelivery's or test event's transaction has committed (the event made pending and
// leased, or the ping held): as a developer who closes the connection right after sending
// the request. It reports whether the cancel happened.
func cancelAfterCommit(t *testing.T, f *fixture) (context.Context, *atomic.Bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(signedIn(f.owner))
	t.Cleanup(cancel)
	var armed, done atomic.Bool
	fire := func(ctx context.Context) error {
		if armed.CompareAndSwap(true, false) {
			cancel()
			done.Store(true)
		}
		return ctx.Err()
	}
	f.db.WebhookEvent.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			em, _ := m.(*ent.WebhookEventMutation)
			if em != nil && !em.Op().Is(ent.OpCreate) && claims(em) {
				if err := fire(ctx); err != nil {
					return nil, err
				}
			}
			v, err := next.Mutate(ctx, m)
			if em != nil && err == nil {
				_, next := em.NextAttemptAt()
				status, _ := em.Status()
				_, leased := em.LockedUntil()
				// The redelivery's lease, or the hold of a test event.
				if (status == webhookevent.StatusPending && leased) || (next && !leased && !em.Op().Is(ent.OpCreate)) {
					armed.Store(true)
				}
			}
			return v, err
		})
	})
	f.db.WebhookEvent.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if err := fire(ctx); err != nil {
				return nil, err
			}
			return next.Query(ctx, q)
		})
	}))
	return ctx, &done
}

// TestARedeliveryWhoseRequestEndsStillMakesItsOneAttempt (review24b): a redelivery leases
// the event it makes pending and makes its one attempt, counted against the developer's
// budget of new receiver addresses. When the request's context ended right after the
// transaction (the developer closed the connection), the attempt read the event with that
// context, failed, and left it pending: once the lease passed the workers, which count
// nothing, sent it on the full retry schedule to whatever the name then resolved to.
func TestARedeliveryWhoseRequestEndsStillMakesItsOneAttempt(t *testing.T) {
	t.Parallel()
	// The first delivery (a worker's) reaches 127.0.0.1; the next lookup is answered
	// 127.0.0.2, where nothing listens; every later one 127.0.0.1 again.
	r := &rebinder{answers: [][]string{{"127.0.0.1"}, {"127.0.0.2"}, {"127.0.0.1"}}}
	f, rcv, svc := retryBudgetSetup(t, r, nil)
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, svc.Worker)
	if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered || len(rcv.Hits()) != 1 {
		t.Fatalf("the event's first delivery: %s, %d requests", ev.Status, len(rcv.Hits()))
	}

	ctx, canceled := cancelAfterCommit(t, f)
	_, _ = svc.Redeliver(ctx, f.app.ID, id) // its answer is read with the ended context
	if !canceled.Load() {
		t.Fatal("the request's context was not ended after the transaction")
	}
	if ev := f.event(t, id); ev.Status != webhookevent.StatusFailed || ev.Attempts != 2 {
		t.Errorf("the redelivery whose request ended: %s after %d attempts, want failed after its one attempt", ev.Status, ev.Attempts)
	}
	drainSchedule(t, f, svc.Worker)
	if n := len(rcv.Hits()) - 1; n != 0 {
		t.Errorf("after the redelivery the receiver at 127.0.0.1, an address the budget never counted, got %d requests", n)
	}
}

// TestATestEventWhoseRequestEndsStillMakesItsAttemptNow (review24b): the same of a test
// event: its claim was made with the request's context, and ended, the ping went out once
// the hold passed from a worker, uncounted, to whatever the name then resolved to; at 300
// test events an hour, as many addresses a day past the budget of 20.
func TestATestEventWhoseRequestEndsStillMakesItsAttemptNow(t *testing.T) {
	t.Parallel()
	r := &rebinder{answers: [][]string{{"127.0.0.1"}}}
	f, rcv, svc := retryBudgetSetup(t, r, nil)

	ctx, canceled := cancelAfterCommit(t, f)
	_, _ = svc.Test(ctx, f.app.ID)
	if !canceled.Load() {
		t.Fatal("the request's context was not ended after the transaction")
	}
	ev, err := f.db.WebhookEvent.Query().Where(webhookevent.Type(webhooks.TypePing)).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != webhookevent.StatusDelivered || ev.Attempts != 1 || len(rcv.Hits()) != 1 {
		t.Errorf("the test event whose request ended: %s after %d attempts, %d requests; want delivered by its attempt now", ev.Status, ev.Attempts, len(rcv.Hits()))
	}
}
