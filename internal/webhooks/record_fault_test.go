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

// failRecords makes the next n records of an attempt (the update that counts it) fail, as a
// database lost between the send and the record.
func failRecords(db *store.DB) *atomic.Int32 {
	var left atomic.Int32
	db.WebhookEvent.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if em, ok := m.(*ent.WebhookEventMutation); ok {
				if _, counts := em.Attempts(); counts && left.Load() > 0 {
					left.Add(-1)
					return nil, errors.New("database connection lost (injected)")
				}
			}
			return next.Mutate(ctx, m)
		})
	})
	return &left
}

// TestAnAttemptThatCannotBeRecordedIsSentAgainOnlyWhereItMayGo: an event sent whose attempt
// cannot be recorded is sent again once its claim ends (at least once: the receiver gets the
// same webhook-id twice), to the application's webhook URL as it is then, never to one the
// developer replaced meanwhile; and not at all once the person's connection ended meanwhile
// (webhooks.WithdrawConnection). A guard: the URL is read at each attempt.
func TestAnAttemptThatCannotBeRecordedIsSentAgainOnlyWhereItMayGo(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		old, current := newReceiver(t), newReceiver(t)
		f := newFixture(t, db, old.URL)
		w := f.worker(db)
		left := failRecords(db)

		t.Run("the URL changed", func(t *testing.T) {
			id := f.enqueue(t, f.app, 1)[0]
			left.Store(1)
			drain(t, w)
			if left.Load() != 0 || len(old.Hits()) != 1 {
				t.Fatalf("fault left %d, %d hits at the old URL; want the send made and its record failed", left.Load(), len(old.Hits()))
			}
			if err := db.Application.UpdateOneID(f.app.ID).SetWebhookURL(current.URL).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(2 * time.Minute) // the claim's lease ends
			drain(t, w)
			if n := len(old.Hits()); n != 1 {
				t.Errorf("the old URL got %d requests, want only the first (1)", n)
			}
			if hits := current.Hits(); len(hits) != 1 || hits[0].ID != id {
				t.Errorf("the current URL got %v, want the event once", hits)
			}
			if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered {
				t.Errorf("the event is %s, want delivered", ev.Status)
			}
		})

		t.Run("the connection ended", func(t *testing.T) {
			before := len(current.Hits())
			id := f.enqueue(t, f.app, 1)[0]
			left.Store(1)
			drain(t, w)
			if left.Load() != 0 || len(current.Hits()) != before+1 {
				t.Fatal("the send was not made or its record did not fail")
			}
			ev := f.event(t, id)
			err := db.Tx(ctx, func(tx *ent.Tx) error { return webhooks.WithdrawConnection(ctx, tx, f.app.ID, ev.ConnectionID) })
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(2 * time.Minute)
			drain(t, w)
			if n := len(current.Hits()); n != before+1 {
				t.Errorf("%d requests after the connection ended, want none", n-before-1)
			}
		})
	})
}
