package webhooks_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/connections"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// endedFixture is a person connected to f.app, with one email_changed event of theirs queued
// for it (their new address).
type endedFixture struct {
	*fixture
	conn   *ent.AppConnection
	change string // the email_changed event's id
}

const endedNewAddress = "the-new-address@example.org"

func newEndedFixture(t *testing.T, db *store.DB, url string) *endedFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, db, url)
	person := newUser(t, db)
	conn := db.AppConnection.Create().SetUserID(person.ID).SetApplicationID(f.app.ID).
		SetAliasEmail(ids.RandomLower(8) + "@relay.example.com").SaveX(ctx)
	var change string
	err := db.Tx(ctx, func(tx *ent.Tx) error {
		ev, err := webhooks.Enqueue(ctx, tx, f.app, webhooks.TypeEmailChanged, webhooks.EmailChanged{
			Type: webhooks.TypeEmailChanged, ApplicationID: f.app.ID, ConnectionID: conn.ID, UserID: person.GlobalID,
			AliasEmail: conn.AliasEmail, OldEmail: person.Email, NewEmail: endedNewAddress,
			ChangedAt: webhooks.Timestamp(f.clock.Now()), Reason: webhooks.ReasonUserEmailChange}, f.clock.Now())
		if ev != nil {
			change = ev.ID
		}
		return err
	})
	if err != nil || change == "" {
		t.Fatalf("queueing email_changed: %q %v", change, err)
	}
	return &endedFixture{fixture: f, conn: conn, change: change}
}

// end ends the connection as the developer's deletion of the user does.
func (f *endedFixture) end(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	err := f.db.Tx(ctx, func(tx *ent.Tx) error {
		c := tx.AppConnection.Query().Where(appconnection.ID(f.conn.ID)).WithApplication().WithUser().OnlyX(ctx)
		return connections.Delete(ctx, tx, c, connections.DeletedByDeveloper, f.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sentTypes are the types of the webhooks rcv received, and whether one held addr.
func sentTypes(t *testing.T, rcv *receiver, addr string) ([]string, bool) {
	t.Helper()
	var types []string
	held := false
	for _, h := range rcv.Hits() {
		var p struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(h.Body, &p); err != nil {
			t.Fatalf("body %q: %v", h.Body, err)
		}
		types = append(types, p.Type)
		held = held || strings.Contains(string(h.Body), addr)
	}
	return types, held
}

// TestARedeliveryAfterTheConnectionEndedSendsNoAddress16: an email_changed event delivered
// while the person was connected stays in the delivery log after the connection ends (the
// application had it). Before, the developer's redelivery (REST …/redeliver, GraphQL
// retryWebhookEvent) put it back in the queue, and the worker sent the person's new address
// again, to whatever URL the application has now, after the person removed the app or closed
// their account. It is refused (409 connection_ended), the event stays delivered, and
// nothing but the ending's own user_account_deleted goes out.
func TestARedeliveryAfterTheConnectionEndedSendsNoAddress16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newEndedFixture(t, db, rcv.URL)
		w := f.worker(db)
		svc := &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now}
		dev := signedIn(f.owner)

		// Delivered while the person is connected; a redelivery then is allowed.
		drain(t, w)
		if got := f.event(t, f.change); got.Status != webhookevent.StatusDelivered {
			t.Fatalf("email_changed is %s, want delivered", got.Status)
		}
		if _, err := svc.Redeliver(dev, f.app.ID, f.change); err != nil {
			t.Fatalf("redelivery while connected: %v", err)
		}
		drain(t, w)
		before := len(rcv.Hits())

		f.end(t)
		_, err := svc.Redeliver(dev, f.app.ID, f.change)
		if e := apperr.As(err); err == nil || e.Code != apperr.Conflict || e.Reason != "connection_ended" {
			t.Errorf("redelivery after the connection ended: %v, want Conflict connection_ended", err)
		}
		drain(t, w)
		types, held := sentTypes(t, rcv, endedNewAddress)
		if after := types[before:]; len(after) != 1 || after[0] != webhooks.TypeUserAccountDeleted {
			t.Errorf("sent after the ending: %v, want only user_account_deleted", after)
		}
		if n := strings.Count(strings.Join(types, " "), webhooks.TypeEmailChanged); n != 2 || !held {
			t.Errorf("email_changed sent %d times, want the 2 made while connected", n)
		}
		if got := db.WebhookEvent.GetX(ctx, f.change); got.Status != webhookevent.StatusDelivered {
			t.Errorf("the refused event is %s, want it left delivered", got.Status)
		}
	})
}

// TestAPendingAddressOfAnEndedConnectionIsNotSent16: an email_changed event that records no
// connection (queued by an older instance during a rolling upgrade, before the migration
// fills webhook_events.connection_id) is not found by WithdrawConnection when the connection
// ends. Before, the worker then delivered the person's new address to the application after
// the end, for days of retries. The worker now drops it: not sent, marked disabled, the
// reason in the delivery log (last error); user_account_deleted itself is delivered.
func TestAPendingAddressOfAnEndedConnectionIsNotSent16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newEndedFixture(t, db, rcv.URL)
		w := f.worker(db)
		// As an older instance queued it: without the connection (the column is immutable).
		clear := "UPDATE webhook_events SET connection_id = NULL WHERE id = ?"
		if db.Dialect == dialect.Postgres {
			clear = strings.Replace(clear, "?", "$1", 1)
		}
		if _, err := db.SQL.ExecContext(ctx, clear, f.change); err != nil {
			t.Fatal(err)
		}

		f.end(t)
		drain(t, w)
		types, held := sentTypes(t, rcv, endedNewAddress)
		if held || len(types) != 1 || types[0] != webhooks.TypeUserAccountDeleted {
			t.Errorf("sent after the ending: %v (the new address among them: %v), want only user_account_deleted", types, held)
		}
		got := db.WebhookEvent.GetX(ctx, f.change)
		if got.Status != webhookevent.StatusDisabled || got.LastError != webhooks.ConnectionEndedText {
			t.Errorf("the ended connection's email_changed: %s, last error %q; want disabled with the reason", got.Status, got.LastError)
		}
		if got.Attempts != 0 {
			t.Errorf("%d attempts recorded, want none (nothing was sent)", got.Attempts)
		}
	})
}
