package webhooks_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent/webhookevent"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// gatedResolver is rebinder whose next lookup, once blocking is set, tells started and waits
// for gate.
type gatedResolver struct {
	rebinder
	blocking atomic.Bool
	started  chan struct{}
	gate     chan struct{}
}

func (r *gatedResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if r.blocking.CompareAndSwap(true, false) {
		r.started <- struct{}{}
		<-r.gate
	}
	return r.rebinder.LookupIPAddr(ctx, host)
}

// retryBudgetSetup is addressBudgetSetup with a worker whose clock is now and a budget of 20
// new delivery targets a day: every address the tests' manual sends meet is counted, none
// refused. The receiver listens on 127.0.0.1.
func retryBudgetSetup(t *testing.T, r webhooks.Resolver, now func(f *fixture) func() time.Time) (*fixture, *receiver, *webhooks.Service) {
	t.Helper()
	db := storetest.SQLite(t)
	rcv := newReceiver(t)
	_, port, _ := net.SplitHostPort(rcv.Listener.Addr().String())
	f := newFixture(t, db, "http://receiver.checks24.example:"+port+"/hook")
	// Each answer closes its connection, so that each send dials (and looks up) again.
	rcv.setAnswer(func(hit, int) (int, http.Header) {
		return http.StatusNoContent, http.Header{"Connection": {"close"}}
	})
	kv, _ := kvtest.EmbeddedClock(t)
	ps := &portal.Service{DB: db, Limiter: ratelimit.New(kv), Now: f.clock.Now}
	w := f.worker(db, func(c *webhooks.WorkerConfig) {
		c.Resolver = r
		if now != nil {
			c.Now = now(f)
		}
	})
	return f, rcv, &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now, DeliveryAddresses: ps.TakeDeliveryAddress}
}

// drainSchedule delivers every attempt due over the whole retry schedule.
func drainSchedule(t *testing.T, f *fixture, w *webhooks.Worker) {
	t.Helper()
	for _, wait := range webhooks.RetrySchedule {
		f.clock.Advance(wait + time.Minute)
		drain(t, w)
	}
}

// TestTheRetriesOfARedeliveryGoNowhereTheBudgetDidNotCount (review24): a redelivery counts
// the address it connects to against the developer's budget of new delivery hosts, but when
// that attempt failed the event, delivered or failed before, was pending again on the retry
// schedule, and the workers, which count nothing, sent up to eight more attempts over the
// next days to whatever the name then resolved to: a name answered with a new address at
// each lookup probed eight addresses per redelivery past the budget. The redelivery of an
// event that is no longer pending is now one attempt, as a test event is: failed, its event
// is failed and the developer, shown the answer, sends again if they want.
func TestTheRetriesOfARedeliveryGoNowhereTheBudgetDidNotCount(t *testing.T) {
	t.Parallel()
	// The event's first delivery (a worker's) reaches 127.0.0.1; the redelivery is answered
	// 127.0.0.2, where nothing listens (counted); every later lookup 127.0.0.1 again.
	r := &rebinder{answers: [][]string{{"127.0.0.1"}, {"127.0.0.2"}, {"127.0.0.1"}}}
	f, rcv, svc := retryBudgetSetup(t, r, nil)
	delivered := f.enqueue(t, f.app, 1)[0]
	drain(t, svc.Worker)
	if ev := f.event(t, delivered); ev.Status != webhookevent.StatusDelivered || len(rcv.Hits()) != 1 {
		t.Fatalf("the event's first delivery: %s, %d requests", ev.Status, len(rcv.Hits()))
	}

	ev, err := svc.Redeliver(signedIn(f.owner), f.app.ID, delivered)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != webhookevent.StatusFailed || ev.Attempts != 2 {
		t.Errorf("the redelivery to 127.0.0.2: %s after %d attempts (%q), want failed after its one attempt", ev.Status, ev.Attempts, ev.LastError)
	}
	drainSchedule(t, f, svc.Worker)
	if n := len(rcv.Hits()) - 1; n != 0 {
		t.Errorf("after the redelivery the receiver at 127.0.0.1, an address the budget never counted, got %d requests", n)
	}
	if r.n != 2 {
		t.Errorf("the name was looked up %d times, want 2: the first delivery and the redelivery", r.n)
	}
}

// TestTwoRedeliveriesAtOnceDoNotPutTheEventBackOnTheSchedule (review24): a redelivery of an
// event that was pending keeps its schedule (the workers were sending it anyway). A second
// redelivery made while the first held the event it had just made pending, before the first
// claimed it, saw the event pending: if its own attempt then won the claim and failed, the
// workers retried the event, uncounted, as above. A redelivery now leases the event in the
// transaction that makes it pending, so an overlapping one is answered delivery_in_progress.
func TestTwoRedeliveriesAtOnceDoNotPutTheEventBackOnTheSchedule(t *testing.T) {
	t.Parallel()
	// The first delivery (a worker's) reaches 127.0.0.1; the redeliveries are answered
	// 127.0.0.2, where nothing listens (counted); every later lookup 127.0.0.1 again.
	r := &gatedResolver{started: make(chan struct{}, 1), gate: make(chan struct{})}
	r.answers = [][]string{{"127.0.0.1"}, {"127.0.0.2"}, {"127.0.0.2"}, {"127.0.0.1"}}
	var (
		armed  atomic.Bool
		target string
		second = make(chan error, 1)
		svc    *webhooks.Service
	)
	// Armed, the worker's next clock reading (the first redelivery's, once its transaction
	// has committed) starts a second redelivery of target and lets the first go on once the
	// second is on its way to the receiver (its lookup waits for the gate) or answered.
	hook := func(f *fixture) func() time.Time {
		return func() time.Time {
			if armed.CompareAndSwap(true, false) {
				r.blocking.Store(true)
				done := make(chan struct{})
				go func() {
					_, err := svc.Redeliver(signedIn(f.owner), f.app.ID, target)
					second <- err
					close(done)
				}()
				select {
				case <-r.started:
				case <-done:
					r.blocking.Store(false) // answered without a lookup
				}
			}
			return f.clock.Now()
		}
	}
	f, rcv, s := retryBudgetSetup(t, r, hook)
	svc = s
	target = f.enqueue(t, f.app, 1)[0]
	drain(t, svc.Worker)
	if ev := f.event(t, target); ev.Status != webhookevent.StatusDelivered || len(rcv.Hits()) != 1 {
		t.Fatalf("the event's first delivery: %s, %d requests", ev.Status, len(rcv.Hits()))
	}

	armed.Store(true)
	if _, err := svc.Redeliver(signedIn(f.owner), f.app.ID, target); err != nil {
		t.Fatal(err)
	}
	close(r.gate)
	if err := <-second; err != nil {
		t.Logf("the second redelivery: %v", err)
	}
	if armed.Load() {
		t.Fatal("the second redelivery was not started")
	}
	if ev := f.event(t, target); ev.Status == webhookevent.StatusPending {
		t.Errorf("after both redeliveries the event is pending again (%d attempts, %q), want it failed", ev.Attempts, ev.LastError)
	}
	drainSchedule(t, f, svc.Worker)
	if n := len(rcv.Hits()) - 1; n != 0 {
		t.Errorf("after the redeliveries the receiver at 127.0.0.1, an address the budget never counted, got %d requests", n)
	}
}
