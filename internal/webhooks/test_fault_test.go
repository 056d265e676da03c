package webhooks_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// failUpdates makes the next n updates of an event that match fail, as a database lost
// between the queueing and the attempt's claim or record.
func failUpdates(db *store.DB, match func(*ent.WebhookEventMutation) bool) *atomic.Int32 {
	var left atomic.Int32
	db.WebhookEvent.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if em, ok := m.(*ent.WebhookEventMutation); ok && !em.Op().Is(ent.OpCreate) && match(em) && left.Load() > 0 {
				left.Add(-1)
				return nil, errors.New("database connection lost (injected)")
			}
			return next.Mutate(ctx, m)
		})
	})
	return &left
}

// claims are the updates that lease an event without counting an attempt, records the ones
// that count it.
func claims(m *ent.WebhookEventMutation) bool {
	_, leases := m.LockedUntil()
	_, counts := m.Attempts()
	return leases && !counts
}

func records(m *ent.WebhookEventMutation) bool {
	_, counts := m.Attempts()
	return counts
}

// TestATestEventWhoseAttemptFailsNowIsAnsweredAsQueued: a ping that is queued is on its way,
// so when its attempt cannot be claimed, or was sent and cannot be recorded, the developer is
// answered the pending event (not an error saying the test failed) and the worker delivers
// it later.
func TestATestEventWhoseAttemptFailsNowIsAnsweredAsQueued(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		w := f.worker(db)
		svc := &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now}
		dev := signedIn(f.owner)
		claimFault, recordFault := failUpdates(db, claims), failUpdates(db, records)

		for _, c := range []struct {
			name     string
			fault    *atomic.Int32
			sentNow  int // requests the receiver gets during Test
			sentLate int // and once the worker delivers it
		}{
			{"the claim fails", claimFault, 0, 1},
			{"the record fails", recordFault, 1, 1},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := len(rcv.Hits())
				c.fault.Store(1)
				ev, err := svc.Test(dev, f.app.ID)
				if err != nil {
					t.Fatalf("Test = %v, want the queued event", err)
				}
				if c.fault.Load() != 0 {
					t.Fatal("the fault was not met")
				}
				if ev.Status != webhookevent.StatusPending || ev.Type != webhooks.TypePing || len(ev.Edges.Deliveries) != 0 {
					t.Errorf("Test answered %s %s with %d attempts, want the pending ping with none", ev.Type, ev.Status, len(ev.Edges.Deliveries))
				}
				if n := len(rcv.Hits()) - before; n != c.sentNow {
					t.Errorf("the receiver got %d requests during Test, want %d", n, c.sentNow)
				}
				f.clock.Advance(2 * time.Minute) // a claim made ends
				drain(t, w)
				hits := rcv.Hits()[before:]
				if len(hits) != c.sentNow+c.sentLate || hits[len(hits)-1].ID != ev.ID {
					t.Errorf("the receiver got %d requests in all, want %d, the last the ping", len(hits), c.sentNow+c.sentLate)
				}
				if got := f.event(t, ev.ID); got.Status != webhookevent.StatusDelivered {
					t.Errorf("the ping is %s after the worker's attempt, want delivered", got.Status)
				}
			})
		}
	})
}
