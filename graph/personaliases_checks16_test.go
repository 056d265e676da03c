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

// TestAliasesOfAConnectionsPersonReadItOnce (review helper gql16, checks16):
// AppConnection.globalId and name of a connection that came alone, not in a list (node(id:),
// a license's linkedConnection, a mutation's answer such as setAppEmailMuted's), read the
// person (Portal.Person) and, for the name, the consent again for every alias, one point
// each: a node(id:) of one's own connection spreading a fragment of 1,000 aliased names ran
// 2,000 statements for 1,020 points, so one operation within the limit ran some 38,000, and
// a mutation that needs nothing but a session (unmuting an app) did the same. The person is
// now read once per connection for the operation (per root field of a mutation), however
// many aliases ask, and the answers are unchanged.
func TestAliasesOfAConnectionsPersonReadItOnce(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	f, statements := countedFixture(t, db)
	id, p := f.identity, f.portal

	alice, _ := id.CreateUser(ctx, "alice@example.com", "Alice")
	dave, _ := id.CreateUser(ctx, "dave@example.com", "Dave")
	app, err := p.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	var conn *ent.AppConnection
	if err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
		if conn, err = connections.CreateWithAlias(ctx, tx, dave.ID, app.Application.ID, "relay.example", "", time.Now()); err != nil {
			return err
		}
		return tx.Consent.Create().SetConnectionID(conn.ID).SetScopes([]string{"openid", "email", "profile"}).Exec(ctx)
	}); err != nil {
		t.Fatal(err)
	}

	const aliases = 50
	var fields strings.Builder
	for i := range aliases {
		fmt.Fprintf(&fields, " n%d: name g%d: globalId", i, i)
	}
	// run posts query twice, with the connection's id alone and with the aliases, and answers
	// how many more statements the aliases ran, checking what they answered.
	run := func(what, uid, query string, pick func(map[string]any) map[string]any) {
		t.Helper()
		var got map[string]any
		statements.Store(0)
		if err := f.as(uid).Post(fmt.Sprintf(query, "id"), &got, client.Var("id", conn.ID)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		base := statements.Load()
		statements.Store(0)
		if err := f.as(uid).Post(fmt.Sprintf(query, "id"+fields.String()), &got, client.Var("id", conn.ID)); err != nil {
			t.Fatalf("%s with aliases: %v", what, err)
		}
		extra := statements.Load() - base
		c := pick(got)
		for i := range aliases {
			if c[fmt.Sprintf("n%d", i)] != "Dave" || c[fmt.Sprintf("g%d", i)] != dave.GlobalID {
				t.Fatalf("%s: alias %d answered %v %v, want Dave %s", what, i, c[fmt.Sprintf("n%d", i)], c[fmt.Sprintf("g%d", i)], dave.GlobalID)
			}
		}
		if extra > 2 {
			t.Errorf("%s: %d aliases of name and of globalId ran %d statements more than the id alone, want at most 2", what, aliases, extra)
		}
	}
	run("the developer's node(id:)", alice.ID, `query($id: ID!) { node(id: $id) { ... on AppConnection { %s } } }`,
		func(got map[string]any) map[string]any { return got["node"].(map[string]any) })
	run("the person's node(id:)", dave.ID, `query($id: ID!) { node(id: $id) { ... on AppConnection { %s } } }`,
		func(got map[string]any) map[string]any { return got["node"].(map[string]any) })
	run("setAppEmailMuted", dave.ID, `mutation($id: ID!) { setAppEmailMuted(input: {connectionId: $id, muted: false}) { connection { %s } } }`,
		func(got map[string]any) map[string]any {
			return got["setAppEmailMuted"].(map[string]any)["connection"].(map[string]any)
		})
}
