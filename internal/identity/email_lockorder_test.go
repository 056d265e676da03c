package identity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// A change of the primary address locks the applications of the connections that follow it
// before those connections, as a developer ending one of them does (the application, then the
// connection): the change waits for the ending, finds the connection gone, and commits. Before,
// it updated the connection first and key-shared the application when it queued the
// connection's email_changed, and PostgreSQL aborted one of the two ("deadlock detected").
func TestAPrimaryChangeRacingADeveloperEndingAConnectionDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresOnly(t)
	ctx := context.Background()
	s := identity.New(db, kvtest.Embedded(t), time.Now, identity.SessionConfig{})
	dev, err := s.CreateUser(ctx, "dev@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	pat, err := s.CreateUser(ctx, "pat@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	app := db.Application.Create().SetOwnerID(dev.ID).SetName("Notes").SetSecretHash("h").
		SetWebhookURL("https://notes.example/hooks").SetWebhookSecret([]byte("sealed")).SaveX(ctx)
	conn := db.AppConnection.Create().SetUserID(pat.ID).SetApplicationID(app.ID).
		SetAliasEmail("x9s8d7@relay.example.com").SetAppEmail(pat.Email).SaveX(ctx)

	// The developer's ending, by hand: the application locked first.
	ending, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ending.Rollback()
	ending.Application.Query().Where(application.ID(app.ID)).ForUpdate().OnlyX(ctx)

	changed := make(chan error, 1)
	go func() {
		_, err := s.ChangePrimaryEmail(ctx, pat.ID, "pat@new.example", "user_email_change", "", pat.ID)
		changed <- err
	}()
	if err, done := storetest.AwaitLockWaiters(t, db, 1, changed); done {
		t.Fatalf("the change did not wait for the application the developer holds: %v", err)
	}
	// The ending goes on to the connection, and would wait for a change that holds it.
	if _, err := ending.AppConnection.Delete().Where(appconnection.ID(conn.ID)).Exec(ctx); err != nil {
		t.Fatalf("the developer's ending: %v", err)
	}
	if err := ending.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatalf("the primary change racing the ending: %v", err)
	}
	if u := db.User.GetX(ctx, pat.ID); u.Email != "pat@new.example" {
		t.Fatalf("primary address %q, want the new one", u.Email)
	}
}
