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
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAnEditedConnectionsConsentReadsItsConnection (review helper txent15, checks15): the
// connection editAppConnection and updateAppConnection answer is unwrapped from the update's
// transaction, but the consent loaded with it (connectionOf's WithConsent, read through the
// transaction) was not: connection { consent { connection { id } } } read the consent's edge
// through the committed transaction and answered an internal error. It now answers, through
// both mutations.
func TestAnEditedConnectionsConsentReadsItsConnection(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) { editedConnectionsConsent(t, db) })
}

func editedConnectionsConsent(t *testing.T, db *store.DB) {
	f := newFixture(t, db)
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	bob, _ := f.identity.CreateUser(ctx, "bob@example.com", "Bob")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	var conn *ent.AppConnection
	if err := f.db.Tx(ctx, func(tx *ent.Tx) (err error) {
		if conn, err = connections.CreateWithAlias(ctx, tx, bob.ID, app.Application.ID, "relay.example", "", time.Now()); err != nil {
			return err
		}
		return tx.Consent.Create().SetConnectionID(conn.ID).SetScopes([]string{"openid", "email"}).Exec(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	var edited struct {
		EditAppConnection struct {
			Connection struct {
				ID      string
				Consent struct {
					Scopes     []string
					Connection struct {
						ID       string
						Licenses struct{ TotalCount int }
					}
				}
			}
		}
	}
	err = f.as(alice.ID).Post(`mutation($app: ID!, $conn: ID!) { editAppConnection(input: {applicationId: $app, connectionId: $conn, isForwarding: false}) {
		connection { id consent { scopes connection { id licenses(first: 1) { totalCount } } } } } }`, &edited,
		client.Var("app", app.Application.ID), client.Var("conn", conn.ID))
	if err != nil {
		t.Fatalf("editAppConnection { connection { consent { connection } } }: %v", err)
	}
	if c := edited.EditAppConnection.Connection; c.Consent.Connection.ID != conn.ID || len(c.Consent.Scopes) != 2 {
		t.Errorf("editAppConnection answered %+v, want the consent of %s and its two scopes", c, conn.ID)
	}
	var updated struct {
		UpdateAppConnection struct {
			Consent struct {
				Connection struct{ ID string }
			}
		}
	}
	err = f.as(alice.ID).Post(`mutation($app: ID!, $conn: ID!) { updateAppConnection(appId: $app, connectionId: $conn, input: {isForwarding: true}) {
		consent { connection { id } } } }`, &updated, client.Var("app", app.Application.ID), client.Var("conn", conn.ID))
	if err != nil {
		t.Fatalf("updateAppConnection { consent { connection } }: %v", err)
	}
	if got := updated.UpdateAppConnection.Consent.Connection.ID; got != conn.ID {
		t.Errorf("updateAppConnection's consent's connection: %q, want %s", got, conn.ID)
	}
}
