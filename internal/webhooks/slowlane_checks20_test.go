package webhooks_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// slowReceiver is an endpoint that holds every request until the attempt's timeout ends it
// (or release is closed), counting the requests it holds and those it has let go.
type slowReceiver struct {
	*receiver
	mu             sync.Mutex
	holding, ended int
	// phase counts only the requests that arrive while it is the same (a request of an
	// earlier phase ends when the server notices its connection closed, later).
	phase       int
	entered     chan struct{}
	release     chan struct{}
	releaseOnce sync.Once
}

func newSlowReceiver(t *testing.T) *slowReceiver {
	s := &slowReceiver{entered: make(chan struct{}, 100), release: make(chan struct{})}
	s.receiver = newReceiver(t)
	return s
}

func (s *slowReceiver) Release() { s.releaseOnce.Do(func() { close(s.release) }) }

// serve is the receiver's handler for a request whose context is ctx.
func (s *slowReceiver) serve(ctx context.Context) {
	s.mu.Lock()
	phase := s.phase
	s.holding++
	s.mu.Unlock()
	s.entered <- struct{}{}
	select {
	case <-ctx.Done():
	case <-s.release:
	}
	s.mu.Lock()
	if phase == s.phase {
		s.holding--
		s.ended++
	}
	s.mu.Unlock()
}

// nextPhase stops counting the requests that arrived so far.
func (s *slowReceiver) nextPhase() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase++
	s.holding, s.ended = 0, 0
}

func (s *slowReceiver) counts() (holding, ended int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holding, s.ended
}

// Applications whose receivers time out share the worker's slow lane: two developers' slow
// receivers, each within PerOwner, together held every slot, and a healthy application's
// event waited until one of their attempts timed out. Now the healthy event is delivered
// while the slow receivers still hold their requests, and they hold no more than the lane.
func TestSlowReceiversDoNotStarveAHealthyApplication(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		slowA, slowB := newSlowReceiver(t), newSlowReceiver(t)
		defer slowA.Release()
		defer slowB.Release()
		healthy := newReceiver(t)
		f := newFixture(t, db, healthy.URL)
		appA, _ := f.newAppOf(t, newUser(t, db), slowA.URL)
		appB, _ := f.newAppOf(t, newUser(t, db), slowB.URL)
		for _, s := range []*slowReceiver{slowA, slowB} {
			s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body) // (the server then notices the connection closed at the timeout)
				s.serve(r.Context())
				w.WriteHeader(http.StatusServiceUnavailable)
			})
		}
		// Attempts made so far: told to Observe once recorded, before the slot is free.
		var attempts atomic.Int64
		type seen struct{ holding, ended, attempts int }
		delivered := make(chan seen, 10)
		healthy.setAnswer(func(hit, int) (int, http.Header) {
			ha, ea := slowA.counts()
			hb, eb := slowB.counts()
			delivered <- seen{ha + hb, ea + eb, int(attempts.Load())}
			return http.StatusNoContent, nil
		})
		cfg := func(c *webhooks.WorkerConfig) {
			// Four slots, two per developer: the two slow developers fill them all.
			c.Parallel, c.PerApplication, c.PerOwner, c.Timeout = 4, 4, 2, 3*time.Second
			c.Observe = func(string, time.Duration) { attempts.Add(1) }
		}
		w := f.worker(db, cfg)
		// Each slow application's first attempt times out: it is now known as slow.
		f.enqueue(t, appA, 1)
		f.enqueue(t, appB, 1)
		if n, err := w.DeliverDue(context.Background()); err != nil || n != 2 {
			t.Fatalf("first attempts: %d delivered, %v; want 2", n, err)
		}
		if n, m := len(slowA.entered), len(slowB.entered); n != 1 || m != 1 {
			t.Fatalf("the slow receivers got %d and %d requests, want 1 each", n, m)
		}
		slowA.nextPhase()
		slowB.nextPhase()
		before := int(attempts.Load())
		// A backlog of both slow applications, then (later) one event of the healthy one.
		f.enqueue(t, appA, 4)
		f.enqueue(t, appB, 4)
		f.clock.Advance(time.Second)
		f.enqueue(t, f.app, 1)

		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { w.Run(ctx); close(stopped) }()
		defer func() { cancel(); slowA.Release(); slowB.Release(); <-stopped }()
		var got seen
		select {
		case got = <-delivered:
		case <-time.After(30 * time.Second):
			t.Fatal("the healthy application's event was not delivered within 30 s")
		}
		if n := got.attempts - before; n != 0 || got.ended != 0 {
			t.Errorf("the healthy event was delivered only after %d slow attempt(s) timed out (%d ended at the receivers): the slow receivers held every slot",
				n, got.ended)
		}
		if got.holding > 1 {
			t.Errorf("the slow receivers held %d requests at once, want at most the slow lane (1 of 4 slots)", got.holding)
		}
	})
}

// An application in the slow lane gets only the lane's slots, its back-channel logout first,
// and it goes back to the normal lane after a fast success.
func TestASlowApplicationGetsTheSlowLaneLogoutsFirstUntilAFastSuccess(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var slow atomic.Bool
		slow.Store(true)
		r := newReceiver(t)
		r.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			io.ReadAll(req.Body)
			if slow.Load() {
				<-req.Context().Done() // until the attempt's timeout
			}
			w.WriteHeader(http.StatusNoContent)
		})
		f := newFixture(t, db, r.URL)
		app, err := f.app.Update().SetBackchannelLogoutURI(r.URL + "/logout").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w := f.worker(db, func(c *webhooks.WorkerConfig) {
			c.Parallel, c.PerApplication, c.PerOwner, c.Timeout = 4, 4, 4, time.Second // a slow lane of 1 (a quarter)
		})
		f.enqueue(t, app, 1)
		if n, err := w.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("first attempt: %d, %v", n, err)
		}
		// Timed out: the application is in the slow lane, of one slot.
		f.enqueue(t, app, 3)
		f.clock.Advance(time.Second)
		var logout string
		err = db.Tx(ctx, func(tx *ent.Tx) error {
			ev, err := webhooks.EnqueueLogout(ctx, tx, app, map[string]any{"sid": "s1"}, f.clock.Now())
			if ev != nil {
				logout = ev.ID
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := w.Claim(ctx, 4)
		if err != nil || len(claimed) != 1 || claimed[0].ID != logout {
			t.Fatalf("a claim of 4 took %d events (%v), want only the back-channel logout", len(claimed), err)
		}
		if more, err := w.Claim(ctx, 4); err != nil || len(more) != 0 {
			t.Fatalf("with the slow lane full a claim took %d events (%v), want none", len(more), err)
		}
		if err := w.Deliver(ctx, claimed[0]); err != nil { // (this worker cannot sign it: a quick failure)
			t.Fatal(err)
		}
		// The receiver is fast again: one webhook in the slow lane, then the normal lane.
		slow.Store(false)
		if n, err := w.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("in the slow lane a batch took %d events (%v), want 1", n, err)
		}
		if n, err := w.DeliverDue(ctx); err != nil || n != 2 {
			t.Fatalf("after a fast success a batch took %d events (%v), want the other 2", n, err)
		}
	})
}

// A receiver that answers the slow lane's attempts at once and holds the others does not go
// back and forth between the lanes: the second time it is slow, a fast success brings it
// back only a timeout after its last slow attempt.
func TestASecondSlowRecordNeedsACooldownBeforeTheNormalLane(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var slow atomic.Bool
		r := newReceiver(t)
		r.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			io.ReadAll(req.Body)
			if slow.Load() {
				<-req.Context().Done() // until the attempt's timeout
			}
			w.WriteHeader(http.StatusNoContent)
		})
		f := newFixture(t, db, r.URL)
		w := f.worker(db, func(c *webhooks.WorkerConfig) {
			c.Parallel, c.PerApplication, c.PerOwner, c.Timeout = 4, 4, 4, time.Second // a slow lane of 1
		})
		deliver := func(want int, what string) {
			t.Helper()
			if n, err := w.DeliverDue(ctx); err != nil || n != want {
				t.Fatalf("%s: a batch took %d events (%v), want %d", what, n, err, want)
			}
		}
		for strike := 1; strike <= 2; strike++ {
			slow.Store(true)
			f.enqueue(t, f.app, 1)
			deliver(1, "a slow attempt")
			slow.Store(false)
			f.enqueue(t, f.app, 3)
			deliver(1, "fast, in the slow lane")
			if strike == 2 {
				deliver(1, "fast again, before the cooldown")
				f.clock.Advance(time.Second)
				deliver(1, "fast, after the cooldown")
				f.enqueue(t, f.app, 2)
			}
			deliver(2, "back in the normal lane")
		}
	})
}
