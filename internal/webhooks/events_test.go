package webhooks_test

import (
	"context"
	"testing"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// An event about a connection records it (its payload's connectionId), where
// WithdrawConnection finds it; a test event records none.
func TestAnEventRecordsTheConnectionItIsAbout(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://a.example/hook")
		for _, tc := range []struct {
			typ     string
			payload any
			want    string
		}{
			{webhooks.TypeEmailChanged, webhooks.EmailChanged{Type: webhooks.TypeEmailChanged, ConnectionID: "con_changed"}, "con_changed"},
			{webhooks.TypeConnectionDeleted, webhooks.ConnectionDeleted{Type: webhooks.TypeConnectionDeleted, ConnectionID: "con_removed"}, "con_removed"},
			{webhooks.TypeUserAccountDeleted, webhooks.UserAccountDeleted{Type: webhooks.TypeUserAccountDeleted, ConnectionID: "con_deleted"}, "con_deleted"},
			{webhooks.TypePing, webhooks.Ping{Type: webhooks.TypePing, ApplicationID: f.app.ID}, ""},
		} {
			var ev *ent.WebhookEvent
			err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
				ev, err = webhooks.Enqueue(ctx, tx, f.app, tc.typ, tc.payload, f.clock.Now())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.event(t, ev.ID).ConnectionID; got != tc.want {
				t.Errorf("%s records connection %q, want %q", tc.typ, got, tc.want)
			}
		}
	})
}

// Withdrawing a connection's undelivered address changes reads its own events, not its
// application's: what it reads does not grow with the application's other events.
func TestWithdrawingAConnectionReadsOnlyItsEvents(t *testing.T) {
	t.Parallel()
	for backend, url := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, reads := storetest.Measured(t, url, "webhook_events")
			f := newFixture(t, db, "https://a.example/hook")
			withdraw := func(connID string) int {
				t.Helper()
				before := reads()
				err := db.Tx(ctx, func(tx *ent.Tx) error { return webhooks.WithdrawConnection(ctx, tx, f.app.ID, connID) })
				if err != nil {
					t.Fatal(err)
				}
				read := reads().Minus(before).Of("webhook_events")
				if n := db.WebhookEvent.Query().Where(webhookevent.ConnectionID(connID)).CountX(ctx); n != 0 {
					t.Fatalf("%d events of %s left after it was withdrawn", n, connID)
				}
				return read
			}
			f.enqueue(t, f.app, 100) // one event each of con_0 to con_99
			withdraw("con_8")        // prepares its statements
			small := withdraw("con_7")
			f.enqueue(t, f.app, 1900) // con_0 to con_1899 again: con_1500 has one
			if big, allowed := withdraw("con_1500"), storetest.NoMoreThan(db, small); big > allowed {
				t.Errorf("withdrawing one connection's event read %d beside 2,000 of its application, %d beside 100; want at most %d", big, small, allowed)
			}
			if n := db.WebhookEvent.Query().CountX(ctx); n != 1997 {
				t.Errorf("%d events left, want the 1,997 of other connections", n)
			}
		})
	}
}
