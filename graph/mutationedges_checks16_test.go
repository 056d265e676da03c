package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/account"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestEachAliasOfAnEdgeInAMutationsAnswerIsPricedAsAQuery (review helper gql16, checks16): a
// mutation's answer is not collected as a query's lists and nodes are, so ent reads an edge
// to one node (a connection's application or consent, a license's variant, …) again for each
// alias, and each was priced as one field: setAppEmailMuted, which needs nothing but a
// session, answering connection { a1: application { id } … } ran one statement per alias,
// 1,001 of them for some 2,100 points, 19,000 within one operation's limit. Each alias of
// such an edge in a mutation is now priced as a query: as many as the limit allows queries
// are refused, and a few still answer.
func TestEachAliasOfAnEdgeInAMutationsAnswerIsPricedAsAQuery(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	f.handler = graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: f.identity, Portal: f.portal,
		Account: &account.Service{DB: db, Identity: f.identity, Now: time.Now}}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	dave, _ := f.identity.CreateUser(ctx, "dave@example.com", "Dave")
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	created, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	app := created.Application.ID
	var conn *ent.AppConnection
	if err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
		conn, err = connections.CreateWithAlias(ctx, tx, dave.ID, app, "relay.example", "", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}

	for _, edge := range []string{"application { id }", "consent { id }"} {
		aliases := func(n int) string {
			var q strings.Builder
			q.WriteString("mutation($id: ID!) { setAppEmailMuted(input: {connectionId: $id, muted: false}) { connection {")
			for i := range n {
				fmt.Fprintf(&q, " a%d: %s", i, edge)
			}
			q.WriteString(" } } }")
			return q.String()
		}
		var got map[string]any
		n := graph.MaxComplexity/20 + 1
		if err := f.as(dave.ID).Post(aliases(n), &got, client.Var("id", conn.ID)); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Errorf("%d aliased %s in a mutation's answer: %v, want COMPLEXITY_LIMIT_EXCEEDED", n, edge, err)
		}
		if err := f.as(dave.ID).Post(aliases(3), &got, client.Var("id", conn.ID)); err != nil {
			t.Errorf("3 aliased %s: %v", edge, err)
		}
	}
	var got struct {
		SetAppEmailMuted struct {
			Connection struct{ Application struct{ ID string } }
		}
	}
	if err := f.as(dave.ID).Post(`mutation($id: ID!) { setAppEmailMuted(input: {connectionId: $id, muted: false}) { connection { application { id } } } }`,
		&got, client.Var("id", conn.ID)); err != nil || got.SetAppEmailMuted.Connection.Application.ID != app {
		t.Errorf("a mutation's answer with its application: %+v, %v", got, err)
	}
}
