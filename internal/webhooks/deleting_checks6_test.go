package webhooks_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestTheWorkerSendsNothingToAnApplicationBeingDeleted: from the moment an application's
// deletion begins (deleting_since, portal.DeleteApplication's first transaction), the outbox
// sends it nothing more, though its rows stay until the deletion's last transaction: an
// email_changed queued before carries a person's new address, and the connection it is about
// may not be reached by the deletion's batches for a quarter of an hour, or ever after a
// failure half-way (its WithdrawConnection runs only when that connection ends). The
// application "authenticates nowhere and signs nobody in" meanwhile; it must not keep
// receiving people's data either.
func TestTheWorkerSendsNothingToAnApplicationBeingDeleted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL+"/hooks")
		f.enqueue(t, f.app, 1)
		db.Application.UpdateOne(f.app).SetDeletingSince(time.Now()).ExecX(ctx)
		drain(t, f.worker(db))
		if hits := rcv.Hits(); len(hits) != 0 {
			t.Errorf("the receiver of the application being deleted got %d requests (%s), want none", len(hits), hits[0].Body)
		}
	})
}

// TestNothingIsQueuedForAnApplicationBeingDeleted: Enqueue and EnqueueLogout write no event for
// an application being deleted, as for one without a webhook URL or back-channel logout URI:
// the deletion removes its outbox at the end, and until then nothing should wait in it to be
// sent (or redelivered from the portal's log).
func TestNothingIsQueuedForAnApplicationBeingDeleted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://receiver.example/hooks")
		app := db.Application.UpdateOne(f.app).SetDeletingSince(time.Now()).
			SetBackchannelLogoutURI("https://receiver.example/logout").SaveX(ctx)
		err := db.Tx(ctx, func(tx *ent.Tx) error {
			ev, err := webhooks.Enqueue(ctx, tx, app, webhooks.TypeEmailChanged, webhooks.EmailChanged{Type: webhooks.TypeEmailChanged,
				ApplicationID: app.ID, ConnectionID: "con_x", NewEmail: "new@example.com"}, f.clock.Now())
			if err != nil || ev != nil {
				t.Errorf("Enqueue for an application being deleted: %+v, %v; want no event", ev, err)
			}
			ev, err = webhooks.EnqueueLogout(ctx, tx, app, map[string]any{"sub": "con_x"}, f.clock.Now())
			if err != nil || ev != nil {
				t.Errorf("EnqueueLogout for an application being deleted: %+v, %v; want no event", ev, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
