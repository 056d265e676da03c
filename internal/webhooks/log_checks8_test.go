package webhooks_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestTheDeliveryLogListsTheNewestAttemptsOfAnEventInOrder: an event with more attempts than
// MaxAttemptsListed (every redelivery adds one) is listed with its newest MaxAttemptsListed
// attempts, oldest of them first, beside an event with few, which are all listed; its
// Attempts still counts them all. A redelivery answers the event the same way.
func TestTheDeliveryLogListsTheNewestAttemptsOfAnEventInOrder(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		svc := &webhooks.Service{DB: db, Now: f.clock.Now}
		dev := signedIn(f.owner)
		ids := f.enqueue(t, f.app, 2)
		many, few := ids[0], ids[1]
		for id, n := range map[string]int{many: webhooks.MaxAttemptsListed + 50, few: 3} {
			db.WebhookEvent.UpdateOneID(id).SetStatus(webhookevent.StatusFailed).SetAttempts(n).ExecX(ctx)
			rows := make([]*ent.WebhookAttemptCreate, n)
			for i := range rows {
				rows[i] = db.WebhookAttempt.Create().SetEventID(id).SetAttempt(i + 1).SetStatusCode(500).
					SetCreatedAt(f.clock.Now().Add(time.Duration(i) * time.Second))
			}
			db.WebhookAttempt.CreateBulk(rows...).ExecX(ctx)
		}
		// want checks that ev lists attempts first to last, in order.
		want := func(what string, ev *ent.WebhookEvent, first, last int) {
			t.Helper()
			got := ev.Edges.Deliveries
			if len(got) != last-first+1 || ev.Attempts != last {
				t.Fatalf("%s: %d attempts listed of %d, want %d to %d", what, len(got), ev.Attempts, first, last)
			}
			for i, a := range got {
				if a.Attempt != first+i {
					t.Fatalf("%s: attempt %d listed at %d, want %d", what, a.Attempt, i, first+i)
				}
			}
		}

		page, err := svc.Events(dev, f.app.ID, webhooks.EventQuery{WithAttempts: true})
		if err != nil || len(page.Edges) != 2 {
			t.Fatalf("the log = %+v, %v", page, err)
		}
		for _, e := range page.Edges {
			if e.Node.ID == many {
				want("the log's busy event", e.Node, 51, webhooks.MaxAttemptsListed+50)
			} else {
				want("the log's other event", e.Node, 1, 3)
			}
		}

		ev, err := svc.Redeliver(dev, f.app.ID, many)
		if err != nil {
			t.Fatal(err)
		}
		want("the redelivery's answer", ev, 51, webhooks.MaxAttemptsListed+50)
	})
}
