package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// countedFixture is a fixture whose handler and portal count the SQL statements they run.
func countedFixture(t *testing.T, db *store.DB) (*fixture, *atomic.Int32) {
	t.Helper()
	statements := new(atomic.Int32)
	counted := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
		dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) { statements.Add(1) })))}
	sealer, err := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
	if err != nil {
		t.Fatal(err)
	}
	id := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
	p := &portal.Service{DB: counted, WebhookSecrets: sealer}
	return &fixture{db: counted, identity: id, portal: p,
		handler: graph.NewHandler(&graph.Resolver{Client: counted.Client, Identity: id, Portal: p}, slog.New(slog.DiscardHandler))}, statements
}

// TestEachAliasOfANodesListIsPricedAsAQuery (review helper gql15, checks15): the lists ent
// pages on the nodes node(id:) reaches (an import run's rows, a webhook event's deliveries, a
// connection's licenses) run a query of their own for each alias and each node, and were
// priced as their selection alone, 2 points for rows(first: 1) { totalCount }: 9 aliased
// node(id:) spreading one fragment of 100 such aliases ran 918 statements for under 2,000
// points, and an operation within the limit some 9,000. Each alias is now priced as a query,
// as the viewer's lists are: as many as the limit allows queries are refused, a few still run.
func TestEachAliasOfANodesListIsPricedAsAQuery(t *testing.T) {
	t.Parallel()
	f, statements := countedFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID})
	app, err := f.portal.CreateApplication(actx, portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.portal.Import(actx, app.Application.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "1", Email: "x@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	event, err := f.db.Client.WebhookEvent.Create().SetApplicationID(app.Application.ID).SetType("test").SetPayload("{}").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var conn *ent.AppConnection
	if err := f.db.Tx(ctx, func(tx *ent.Tx) (err error) {
		conn, err = connections.CreateWithAlias(ctx, tx, alice.ID, app.Application.ID, "relay.example", "", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ typ, id, field string }{
		{"ImportSource", run.Source.ID, "rows(first: 1) { totalCount }"},
		{"WebhookEvent", event.ID, "deliveries(first: 1) { totalCount }"},
		{"AppConnection", conn.ID, "licenses(first: 1) { totalCount }"},
	} {
		var fragment strings.Builder
		fmt.Fprintf(&fragment, "fragment F on %s {", c.typ)
		for i := range 100 {
			fmt.Fprintf(&fragment, " a%d: %s", i, c.field)
		}
		fragment.WriteString(" }")
		nodes := func(n int) string {
			var q strings.Builder
			q.WriteString("query($id: ID!) {")
			for i := range n {
				fmt.Fprintf(&q, " n%d: node(id: $id) { ...F }", i)
			}
			q.WriteString(" } " + fragment.String())
			return q.String()
		}
		var got map[string]any
		n := graph.MaxComplexity/(100*20) + 1 // more aliases than queries the limit allows
		statements.Store(0)
		err := f.as(alice.ID).Post(nodes(n), &got, client.Var("id", c.id))
		if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Errorf("%d nodes of 100 aliased %s: %v after %d statements, want COMPLEXITY_LIMIT_EXCEEDED",
				n, c.field, err, statements.Load())
		}
		if err := f.as(alice.ID).Post(nodes(2), &got, client.Var("id", c.id)); err != nil {
			t.Errorf("2 nodes of 100 aliased %s: %v", c.field, err)
		}
	}
}
