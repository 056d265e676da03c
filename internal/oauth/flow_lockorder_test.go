package oauth_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/application"
	"loginsign/ent/user"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// A first connect racing an ownership transfer to the same person, of the same application,
// must not deadlock: the transfer's acceptance locks the person, then the application
// (team.AcceptTransfer); the approval's insert of the connection takes key shares of both
// (its foreign keys), so it takes the person first too. The test plays the acceptance in its
// own transaction: the person, then (once the approval waits) the application.
func TestAFirstConnectRacingATransferToThePersonDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{}) // SQLite transactions take turns
	const cb = "https://rp.example/cb"
	ctx := e.ctx()
	app, _ := e.client(t, cb)
	u := e.person(t)
	req := e.authorize(t, authzQuery(app.ID, cb, "", "scope", "openid"))
	tx, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	tx.User.Query().Where(user.ID(u.ID)).ForUpdate().OnlyX(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Approve(ctx, req, u.ID, oauth.ShareAlias, e.clock.Now())
		done <- err
	}()
	if err, ended := storetest.AwaitLockWaiters(t, e.db, 1, done); ended {
		t.Fatalf("the approval did not wait for the person held by a transfer: %v", err)
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := tx.Application.Query().Where(application.ID(app.ID)).ForUpdate().Only(wait); err != nil {
		t.Fatalf("the transfer locking the application after the person: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the approval after the transfer: %v", err)
	}
}
