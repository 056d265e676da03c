package account_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/useremail"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/connections"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// When a connection ends, the events about it that carry the person's addresses (email_changed)
// and were not delivered are withdrawn with their attempts: a pending one is not sent after
// the app was removed, a failed one cannot be redelivered, and the portal no longer shows
// their addresses. A delivered one stays (the app has it), so do other connections' events,
// and the event of the ending itself goes out. Whoever ends the connection: the person
// (connection_deleted) or the developer (user_account_deleted). On SQLite and PostgreSQL.
func TestEndingAConnectionWithdrawsItsUndeliveredAddressChanges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		app := e.app("notes")
		conn := e.connect(e.person, app, e.person.Email)
		devConn := e.connect(e.dev, app, e.dev.Email)
		backup := e.addAndVerify(e.person, "backup@example.org")
		devBackup := e.addAndVerify(e.dev, "dev-backup@example.org")

		// Three changes of the person's primary address, each queued for the app that sees it;
		// the first was delivered, the second failed (and has an attempt), the third is pending.
		var changes []*ent.WebhookEvent
		for _, to := range []string{backup.Email, e.person.Email, backup.Email} {
			ue := db.UserEmail.Query().Where(useremail.UserID(e.person.ID), useremail.Email(to)).OnlyX(ctx)
			changes = append(changes, e.queued(webhooks.TypeEmailChanged, func() {
				if _, err := e.svc.MakePrimaryEmail(as(e.person), ue.ID, ""); err != nil {
					t.Fatal(err)
				}
			}))
		}
		delivered, failed, pending := changes[0], changes[1], changes[2]
		db.WebhookEvent.UpdateOne(delivered).SetStatus(webhookevent.StatusDelivered).SetDeliveredAt(now).ExecX(ctx)
		db.WebhookEvent.UpdateOne(failed).SetStatus(webhookevent.StatusFailed).SetAttempts(1).ExecX(ctx)
		db.WebhookAttempt.Create().SetEventID(failed.ID).SetAttempt(1).SetStatusCode(500).SetCreatedAt(now).ExecX(ctx)
		db.WebhookAttempt.Create().SetEventID(delivered.ID).SetAttempt(1).SetStatusCode(200).SetCreatedAt(now).ExecX(ctx)
		// Another person's change, on the same app.
		devChange := e.queued(webhooks.TypeEmailChanged, func() {
			if _, err := e.svc.MakePrimaryEmail(as(e.dev), devBackup.ID, ""); err != nil {
				t.Fatal(err)
			}
		})

		ended := e.queued(webhooks.TypeConnectionDeleted, func() {
			if err := e.svc.RemoveConnection(as(e.person), conn.ID); err != nil {
				t.Fatal(err)
			}
		})
		for _, gone := range []*ent.WebhookEvent{failed, pending} {
			if _, err := db.WebhookEvent.Get(ctx, gone.ID); !store.NotFound(err) {
				t.Errorf("undelivered email_changed %s still stored after the app was removed: %v", gone.ID, err)
			}
		}
		if n := db.WebhookAttempt.Query().Where(webhookattempt.EventID(failed.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d attempts of the withdrawn event left", n)
		}
		for _, ev := range db.WebhookEvent.Query().Where(webhookevent.StatusNEQ(webhookevent.StatusDelivered)).AllX(ctx) {
			for _, addr := range []string{e.person.Email, backup.Email} {
				if strings.Contains(ev.Payload, `"`+addr+`"`) {
					t.Errorf("undelivered %s event still holds %s: %s", ev.Type, addr, ev.Payload)
				}
			}
		}
		if got := db.WebhookEvent.GetX(ctx, delivered.ID); got.Status != webhookevent.StatusDelivered {
			t.Errorf("the delivered event is %s, want it kept as delivered", got.Status)
		}
		if n := db.WebhookAttempt.Query().Where(webhookattempt.EventID(delivered.ID)).CountX(ctx); n != 1 {
			t.Errorf("the delivered event has %d attempts, want its 1", n)
		}
		if got := db.WebhookEvent.GetX(ctx, devChange.ID); got.Status != webhookevent.StatusPending {
			t.Errorf("another connection's event is %s, want pending", got.Status)
		}
		if ended.Status != webhookevent.StatusPending || !strings.Contains(ended.Payload, conn.ID) {
			t.Errorf("connection_deleted: %s %s, want pending for %s", ended.Status, ended.Payload, conn.ID)
		}

		// The developer ends the other connection: its change is withdrawn too.
		closed := e.queued(webhooks.TypeUserAccountDeleted, func() {
			err := db.Tx(ctx, func(tx *ent.Tx) error {
				c := tx.AppConnection.Query().Where(appconnection.ID(devConn.ID)).WithApplication().WithUser().OnlyX(ctx)
				return connections.Delete(ctx, tx, c, connections.DeletedByDeveloper, now)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		if _, err := db.WebhookEvent.Get(ctx, devChange.ID); !store.NotFound(err) {
			t.Errorf("email_changed of a connection the developer ended still stored: %v", err)
		}
		if closed.Status != webhookevent.StatusPending || !strings.Contains(closed.Payload, devConn.ID) {
			t.Errorf("user_account_deleted: %s %s, want pending for %s", closed.Status, closed.Payload, devConn.ID)
		}
	})
}

// queued runs do and returns the one event of type typ it queued.
func (e *env) queued(typ string, do func()) *ent.WebhookEvent {
	e.t.Helper()
	ctx := context.Background()
	before := map[string]bool{}
	for _, id := range e.db.WebhookEvent.Query().Where(webhookevent.Type(typ)).IDsX(ctx) {
		before[id] = true
	}
	do()
	var out []*ent.WebhookEvent
	for _, ev := range e.db.WebhookEvent.Query().Where(webhookevent.Type(typ)).AllX(ctx) {
		if !before[ev.ID] {
			out = append(out, ev)
		}
	}
	if len(out) != 1 {
		e.t.Fatalf("%d %s events queued, want 1", len(out), typ)
	}
	return out[0]
}
