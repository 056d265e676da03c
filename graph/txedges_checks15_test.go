package graph_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
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
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
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

// TestAnAddedOrEditedVariantReadsItsApplication (review helper gql15, checks15): the variant
// addLicenseVariant and editLicenseVariant answer was written in their transaction, and its
// application was read through it after it committed: variant { application { name } }
// answered an internal error. It now answers.
func TestAnAddedOrEditedVariantReadsItsApplication(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	id := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
	p := &portal.Service{DB: db}
	ls := licenses.New(db, p.Authorize, time.Now)
	f := &fixture{db: db, identity: id, portal: p,
		handler: graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: id, Portal: p, Licenses: ls}, slog.New(slog.DiscardHandler))}
	alice, _ := id.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := p.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		AddLicenseVariant struct {
			Variant struct {
				ID          string
				Application struct{ Name string }
			}
		}
	}
	err = f.as(alice.ID).Post(`mutation($app: ID!) { addLicenseVariant(input: {applicationId: $app, name: "Pro"}) { variant { id application { name } } } }`,
		&added, client.Var("app", app.Application.ID))
	if err != nil {
		t.Fatalf("addLicenseVariant { variant { application } }: %v", err)
	}
	if added.AddLicenseVariant.Variant.Application.Name != "A" {
		t.Errorf("added variant's application: %+v", added.AddLicenseVariant.Variant)
	}
	var edited struct {
		EditLicenseVariant struct {
			Variant struct {
				Name        string
				Application struct{ Name string }
			}
		}
	}
	err = f.as(alice.ID).Post(`mutation($app: ID!, $id: ID!) { editLicenseVariant(input: {applicationId: $app, variantId: $id, name: "Pro 2"}) { variant { name application { name } } } }`,
		&edited, client.Var("app", app.Application.ID), client.Var("id", added.AddLicenseVariant.Variant.ID))
	if err != nil {
		t.Fatalf("editLicenseVariant { variant { application } }: %v", err)
	}
	if v := edited.EditLicenseVariant.Variant; v.Name != "Pro 2" || v.Application.Name != "A" {
		t.Errorf("edited variant: %+v", v)
	}
}
