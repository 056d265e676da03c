package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestAMutationsAnswerChecksTheTeamOncePerApplication (review helper gql16, checks16): the
// Application fields only its team reads (createdAt, redirectUris, clientRequestsPerMinute,
// …, teamField) check the viewer's role once per query, but in a mutation's answer once per
// alias, one point each: setAppEmailMuted, which needs nothing but a session, answering
// connection { application { … } } with 1,000 aliased createdAt ran the role check 1,000
// times (a statement or two each) for about 1,100 points. Each root field of a mutation now
// keeps its team checks as a query does, and still answers after its own change.
func TestAMutationsAnswerChecksTheTeamOncePerApplication(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	f, statements := countedFixture(t, db)
	id, p := f.identity, f.portal

	// Alice owns the application and is connected to it, as anyone may be to their own app.
	alice, _ := id.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := p.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "A", RedirectURIs: []string{"https://a.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	var conn *ent.AppConnection
	if err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
		conn, err = connections.CreateWithAlias(ctx, tx, alice.ID, app.Application.ID, "relay.example", "", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}

	const aliases = 50
	var fields strings.Builder
	for i := range aliases {
		fmt.Fprintf(&fields, " c%d: createdAt r%d: redirectUris", i, i)
	}
	query := `mutation($id: ID!) { setAppEmailMuted(input: {connectionId: $id, muted: false}) { connection { application { %s } } } }`
	var got map[string]any
	statements.Store(0)
	if err := f.as(alice.ID).Post(fmt.Sprintf(query, "id c: createdAt"), &got, client.Var("id", conn.ID)); err != nil {
		t.Fatal(err)
	}
	base := statements.Load()
	statements.Store(0)
	if err := f.as(alice.ID).Post(fmt.Sprintf(query, "id"+fields.String()), &got, client.Var("id", conn.ID)); err != nil {
		t.Fatal(err)
	}
	extra := statements.Load() - base
	a := got["setAppEmailMuted"].(map[string]any)["connection"].(map[string]any)["application"].(map[string]any)
	for i := range aliases {
		uris, _ := a[fmt.Sprintf("r%d", i)].([]any)
		if a[fmt.Sprintf("c%d", i)] == nil || len(uris) != 1 || uris[0] != "https://a.example.com/cb" {
			t.Fatalf("alias %d answered %v %v", i, a[fmt.Sprintf("c%d", i)], a[fmt.Sprintf("r%d", i)])
		}
	}
	if extra > 0 {
		t.Errorf("%d aliases of createdAt and of redirectUris ran %d statements more than one createdAt, want none", aliases, extra)
	}

	// Off the team, every alias answers as before: not found.
	dave, _ := id.CreateUser(ctx, "dave@example.com", "Dave")
	var daves *ent.AppConnection
	if err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
		daves, err = connections.CreateWithAlias(ctx, tx, dave.ID, app.Application.ID, "relay.example", "", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = f.as(dave.ID).Post(fmt.Sprintf(query, "name r0: redirectUris r1: redirectUris"), &got, client.Var("id", daves.ID))
	if err == nil || strings.Count(err.Error(), "not_found") < 2 {
		t.Errorf("a person off the team read the team's fields: %v", err)
	}
}
