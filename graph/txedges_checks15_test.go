package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestAnEditedConnectionsEdgesAnswer (review helper gql15, checks15): the connection
// editAppConnection answers was written in the update's transaction, and its edges were read
// through it after it committed: connection { licenses(first: 1) { totalCount } } answered
// an internal error (logged as one) for a plain edit. They now answer.
func TestAnEditedConnectionsEdgesAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	bob, _ := f.identity.CreateUser(ctx, "bob@example.com", "Bob")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	var conn *ent.AppConnection
	if err := f.db.Tx(ctx, func(tx *ent.Tx) (err error) {
		conn, err = connections.CreateWithAlias(ctx, tx, bob.ID, app.Application.ID, "relay.example", "", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		EditAppConnection struct {
			Connection struct {
				IsForwarding bool
				Application  struct{ Name string }
				Licenses     struct{ TotalCount int }
			}
		}
	}
	err = f.as(alice.ID).Post(`mutation($app: ID!, $conn: ID!) { editAppConnection(input: {applicationId: $app, connectionId: $conn, isForwarding: false}) {
		connection { isForwarding application { name } licenses(first: 1) { totalCount } } } }`, &got,
		client.Var("app", app.Application.ID), client.Var("conn", conn.ID))
	if err != nil {
		t.Fatalf("editAppConnection { connection { application licenses } }: %v", err)
	}
	if c := got.EditAppConnection.Connection; c.IsForwarding || c.Application.Name != "A" || c.Licenses.TotalCount != 0 {
		t.Errorf("answered %+v, want forwarding off, application A, no licenses", c)
	}
}
