package oauth_test

import (
	"testing"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/webhookevent"
	"loginsign/internal/oauth"
	"loginsign/internal/webhooks"
)

// A person who answers the consent page again and shows the app their relay alias instead of
// their address takes the address back from the app: an email_changed event queued while the
// app was shown it, and not delivered yet (the receiver down, or answering 500 on purpose),
// must not deliver the person's new address afterwards, nor stay in the delivery log to be
// read or redelivered. Before, it went out for days of retries to an app that now has only
// the alias. Choosing the same address again withdraws nothing.
func TestShowingTheAliasInsteadWithdrawsUndeliveredAddressEvents(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		app, err := e.db.Application.UpdateOne(app).SetWebhookURL("https://hooks.rp.example/h").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u := e.person(t)
		q := authzQuery(app.ID, cb, "", "scope", "openid email")
		if _, err := e.svc.Approve(ctx, e.authorize(t, q), u.ID, u.Email, e.clock.Now()); err != nil {
			t.Fatalf("sharing the address: %v", err)
		}
		conn, err := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).Only(ctx)
		if err != nil || conn.AppEmail != u.Email {
			t.Fatalf("connection %+v, %v; want it shown %s", conn, err, u.Email)
		}
		queue := func() {
			t.Helper()
			ev := webhooks.EmailChanged{Type: webhooks.TypeEmailChanged, ApplicationID: app.ID, ConnectionID: conn.ID,
				UserID: "AB1234", AliasEmail: conn.AliasEmail, OldEmail: u.Email, NewEmail: "new-private@example.com",
				ChangedAt: webhooks.Timestamp(e.clock.Now()), Reason: webhooks.ReasonUserEmailChange}
			if err := e.db.Tx(ctx, func(tx *ent.Tx) error {
				_, err := webhooks.Enqueue(ctx, tx, app, webhooks.TypeEmailChanged, ev, e.clock.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		pending := func() int {
			t.Helper()
			n, err := e.db.WebhookEvent.Query().Where(webhookevent.ConnectionID(conn.ID),
				webhookevent.TypeEQ(webhooks.TypeEmailChanged)).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		queue()
		if _, err := e.svc.Approve(ctx, e.authorize(t, q), u.ID, u.Email, e.clock.Now()); err != nil {
			t.Fatalf("sharing the same address again: %v", err)
		}
		if n := pending(); n != 1 {
			t.Fatalf("%d email_changed events after the same address was chosen again, want 1 (nothing withdrawn)", n)
		}
		if _, err := e.svc.Approve(ctx, e.authorize(t, q), u.ID, oauth.ShareAlias, e.clock.Now()); err != nil {
			t.Fatalf("showing the alias: %v", err)
		}
		var shown *ent.AppConnection
		if shown, err = e.db.AppConnection.Get(ctx, conn.ID); err != nil || shown.AppEmail != "" {
			t.Fatalf("connection %+v, %v; want the alias shown", shown, err)
		}
		if n := pending(); n != 0 {
			t.Errorf("%d undelivered email_changed events still carry the person's address to an app shown only the alias", n)
		}
	})
}
