package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// observed collects what a worker's Observe is told, by the attempt's duration.
type observed struct {
	mu  sync.Mutex
	got map[time.Duration][]string
}

func (o *observed) observe(result string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.got == nil {
		o.got = map[time.Duration][]string{}
	}
	o.got[took] = append(o.got[took], result)
}

// claimAll claims the n events due for f's worker w.
func claimAll(t *testing.T, w *webhooks.Worker, n int) []*ent.WebhookEvent {
	t.Helper()
	evs, err := w.Claim(context.Background(), n)
	if err != nil || len(evs) != n {
		t.Fatalf("claimed %d events (%v), want %d", len(evs), err, n)
	}
	return evs
}

// Attempts recorded together each get their own answer's result, in their event and in what
// Observe is told; one whose event moved on meanwhile (another worker took it over after the
// lease) records nothing and is not observed.
func TestAttemptsRecordedTogetherEachGetTheirOwnResult(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "https://a.example/hook")
		f.enqueue(t, f.app, 4)
		obs := &observed{}
		w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Observe = obs.observe })
		evs := claimAll(t, w, 4)
		moved := *evs[3]
		moved.Attempts = 3 // as read before attempts made by another worker
		took := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
		if err := w.RecordAttempts(context.Background(), []*ent.WebhookEvent{evs[0], evs[1], evs[2], &moved},
			[]int{http.StatusNoContent, http.StatusInternalServerError, 0, http.StatusNoContent}, took); err != nil {
			t.Fatal(err)
		}
		for i, want := range []struct {
			status   webhookevent.Status
			attempts int
			code     int
		}{{webhookevent.StatusDelivered, 1, 204}, {webhookevent.StatusPending, 1, 500}, {webhookevent.StatusPending, 1, 0},
			{webhookevent.StatusPending, 0, 0}} {
			ev := f.event(t, evs[i].ID)
			code := ev.LastStatusCode
			if ev.Status != want.status || ev.Attempts != want.attempts || code != want.code || len(ev.Edges.Deliveries) != want.attempts {
				t.Errorf("event %d: %s, %d attempts (%d logged), last status %d; want %s, %d, %d", i, ev.Status, ev.Attempts,
					len(ev.Edges.Deliveries), code, want.status, want.attempts, want.code)
			}
		}
		want := map[time.Duration][]string{took[0]: {"delivered"}, took[1]: {"retry"}, took[2]: {"retry"}}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if len(obs.got) != len(want) {
			t.Errorf("Observe was told %v, want %v", obs.got, want)
		}
		for d, results := range want {
			if g := obs.got[d]; len(g) != 1 || g[0] != results[0] {
				t.Errorf("Observe for the attempt of %v: %v, want %v", d, g, results)
			}
		}
	})
}

// A batch of attempts whose transaction fails is recorded one attempt at a time, so that a
// fault of one record costs the others nothing.
func TestAttemptsWhoseSharedRecordFailsAreEachRecordedOnTheirOwn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "https://a.example/hook")
		f.enqueue(t, f.app, 3)
		left := failRecords(db)
		w := f.worker(db)
		evs := claimAll(t, w, 3)
		left.Store(1)
		err := w.RecordAttempts(context.Background(), evs, []int{204, 204, 204}, make([]time.Duration, 3))
		if err != nil || left.Load() != 0 {
			t.Fatalf("recording after one fault: %v (fault left %d), want each recorded on its own", err, left.Load())
		}
		for i, ev := range evs {
			if got := f.event(t, ev.ID); got.Status != webhookevent.StatusDelivered || got.Attempts != 1 {
				t.Errorf("event %d: %s after %d attempts, want delivered after 1", i, got.Status, got.Attempts)
			}
		}
	})
}

// Any 2xx answer delivers: 299 does, 300 does not.
func TestA299AnswerDeliversAndA300IsRetried(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for _, c := range []struct {
			status int
			want   webhookevent.Status
		}{{299, webhookevent.StatusDelivered}, {300, webhookevent.StatusPending}} {
			r := newReceiver(t)
			r.setAnswer(func(hit, int) (int, http.Header) { return c.status, nil })
			f := newFixture(t, db, r.URL)
			id := f.enqueue(t, f.app, 1)[0]
			drain(t, f.worker(db))
			if ev := f.event(t, id); ev.Status != c.want || ev.Attempts != 1 {
				t.Errorf("after an answer %d: %s, %d attempts; want %s after 1", c.status, ev.Status, ev.Attempts, c.want)
			}
		}
	})
}

// A back-channel logout receiver's 410 is an ordinary failure: the logout is tried again, and
// the application's webhook endpoint and its events are left as they are.
func TestALogoutReceiversGoneDisablesNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hook, logout := newReceiver(t), newReceiver(t)
		logout.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		f := newFixture(t, db, hook.URL)
		f.app = db.Application.UpdateOne(f.app).SetBackchannelLogoutURI(logout.URL).SaveX(ctx)
		var logoutID string
		err := db.Tx(ctx, func(tx *ent.Tx) error {
			ev, err := webhooks.EnqueueLogout(ctx, tx, f.app, map[string]any{"sid": "s1"}, f.clock.Now())
			if ev != nil {
				logoutID = ev.ID
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		w := f.worker(db, func(c *webhooks.WorkerConfig) {
			c.LogoutToken = func(context.Context, *ent.Application, []byte) (string, error) { return "logout-token", nil }
		})
		drain(t, w)
		if ev := f.event(t, logoutID); ev.Status != webhookevent.StatusPending || ev.Attempts != 1 {
			t.Fatalf("the logout answered 410: %s after %d attempts, want pending after 1", ev.Status, ev.Attempts)
		}
		if app := db.Application.GetX(ctx, f.app.ID); app.WebhookDisabledAt != nil {
			t.Error("a logout receiver's 410 disabled the application's webhook endpoint")
		}
		id := f.enqueue(t, f.app, 1)[0]
		drain(t, w)
		if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered {
			t.Errorf("a webhook after the logout's 410: %s, want delivered", ev.Status)
		}
	})
}

// When the application's other pending events cannot be stopped after a 410, the attempt is
// not recorded at all: the endpoint is not disabled with its events left pending.
func TestA410WhosePendingEventsCannotBeStoppedRecordsNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newReceiver(t)
		r.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		f := newFixture(t, db, r.URL)
		var armed atomic.Bool
		db.WebhookEvent.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if em, ok := m.(*ent.WebhookEventMutation); ok && armed.Load() && em.Op().Is(ent.OpUpdate) {
					_, counts := em.Attempts()
					if s, ok := em.Status(); ok && s == webhookevent.StatusDisabled && !counts {
						return nil, errors.New("database connection lost (injected)")
					}
				}
				return next.Mutate(ctx, m)
			})
		})
		ids := f.enqueue(t, f.app, 2)
		w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Batch = 1 })
		armed.Store(true)
		if _, err := w.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		armed.Store(false)
		if app := db.Application.GetX(ctx, f.app.ID); app.WebhookDisabledAt != nil {
			t.Error("the endpoint was disabled although its pending events could not be stopped")
		}
		for _, id := range ids {
			if ev := f.event(t, id); ev.Status != webhookevent.StatusPending || ev.Attempts != 0 {
				t.Errorf("event %s: %s after %d attempts, want pending, its attempt unrecorded", id, ev.Status, ev.Attempts)
			}
		}
	})
}
