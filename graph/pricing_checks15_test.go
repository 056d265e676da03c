package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/account"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// countedFixture is a fixture whose handler and portal count the SQL statements they run (the
// person's own mutations, such as setAppEmailMuted, included).
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
	acc := &account.Service{DB: counted, Identity: id, Now: time.Now}
	ls := licenses.New(counted, p.Authorize, time.Now)
	return &fixture{db: counted, identity: id, portal: p,
		handler: graph.NewHandler(&graph.Resolver{Client: counted.Client, Identity: id, Portal: p, Account: acc, Licenses: ls}, slog.New(slog.DiscardHandler))}, statements
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
	actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
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
		{"WebhookEvent", event.ID, "deliveries(first: 1) { pageInfo { hasNextPage } }"}, // its totalCount reads a whole log (checks24)
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

// TestAnImportsResultsReadTheirSource (review helper gql15, checks15): the run and rows an
// import answers were written in its transaction, and their edges were read through it after
// it committed: results { source { id } } answered one internal error per row (after a
// statement each), and source { application } or source { rows } an internal error. Each
// row's source is now the run's, read without a statement, and the source's edges answer.
func TestAnImportsResultsReadTheirSource(t *testing.T) {
	t.Parallel()
	f, statements := countedFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	users := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"externalUserId": fmt.Sprint(i), "email": fmt.Sprintf("u%d-%d@example.com", n, i)}
		}
		return out
	}
	const mutation = `mutation($id: ID!, $users: [ImportUserInput!]!) { importAppUsers(input: {applicationId: $id, users: $users}) { %s } }`
	var plain map[string]any
	statements.Store(0)
	if err := f.as(alice.ID).Post(fmt.Sprintf(mutation, "results { row }"), &plain,
		client.Var("id", app.Application.ID), client.Var("users", users(50))); err != nil {
		t.Fatal(err)
	}
	base := statements.Load()
	var got struct {
		ImportAppUsers struct {
			Source struct {
				ID          string
				Application struct{ Name string }
				Rows        struct{ TotalCount int }
			}
			Results []struct {
				Row    int
				Source struct{ ID string }
			}
		}
	}
	statements.Store(0)
	err = f.as(alice.ID).Post(fmt.Sprintf(mutation, "results { row source { id } }"), &got,
		client.Var("id", app.Application.ID), client.Var("users", users(51)))
	if err != nil {
		t.Fatalf("results { source { id } }: %.300v", err)
	}
	if extra := statements.Load() - base; extra > 2 {
		t.Errorf("results { source } of 51 rows ran %d statements more than results { row } of 50", extra)
	}
	for _, r := range got.ImportAppUsers.Results {
		if r.Source.ID == "" {
			t.Fatalf("row %d answered no source", r.Row)
		}
	}
	err = f.as(alice.ID).Post(fmt.Sprintf(mutation, "source { id application { name } rows(first: 1) { totalCount } }"), &got,
		client.Var("id", app.Application.ID), client.Var("users", users(3)))
	if err != nil {
		t.Fatalf("source { application rows }: %v", err)
	}
	if s := got.ImportAppUsers.Source; s.Application.Name != "A" || s.Rows.TotalCount != 3 {
		t.Errorf("source answered %+v, want application A and 3 rows", s)
	}
}

// TestAnImportsResultsPayForTheirSourcesQueries (review helper gql15, checks15): each row of
// an import's results reaches the run's source, and a query under it (rows, application) runs
// once per row: priced once, results { source { rows(first: 1) { totalCount } } } of 1,000
// rows cost some 130 points for 1,000 counts. The selection under a result's source is now
// priced once per row sent; refused, the import writes nothing.
func TestAnImportsResultsPayForTheirSourcesQueries(t *testing.T) {
	t.Parallel()
	f, _ := countedFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	users := make([]map[string]any, 1000)
	for i := range users {
		users[i] = map[string]any{"externalUserId": fmt.Sprint(i), "email": fmt.Sprintf("u%d@example.com", i)}
	}
	var got map[string]any
	err = f.as(alice.ID).Post(`mutation($id: ID!, $users: [ImportUserInput!]!) { importAppUsers(input: {applicationId: $id, users: $users}) {
		results { row source { rows(first: 1) { totalCount } } } } }`, &got, client.Var("id", app.Application.ID), client.Var("users", users))
	if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("results { source { rows } } of 1,000 rows: %.300v, want COMPLEXITY_LIMIT_EXCEEDED", err)
	}
	if n := f.db.Client.ImportSource.Query().CountX(ctx); n != 0 {
		t.Errorf("%d import runs written by a refused import", n)
	}
	// The portal's own import of as many rows still runs.
	err = f.as(alice.ID).Post(`mutation($id: ID!, $users: [ImportUserInput!]!) { importAppUsers(input: {applicationId: $id, users: $users}) {
		source { id total counts { imported alreadyConnected invalidRow } } results { row email externalUserId status message } } }`,
		&got, client.Var("id", app.Application.ID), client.Var("users", users))
	if err != nil {
		t.Errorf("the portal's import of 1,000 rows: %.300v", err)
	}
}

// TestAnUndoneImportsSourceReadsItsEdges (review helper gql15, checks15): the run undoImport
// answers was read in its transaction, and its edges through it after it committed:
// source { application { name } rows(first: 1) { totalCount } } answered internal errors.
func TestAnUndoneImportsSourceReadsItsEdges(t *testing.T) {
	t.Parallel()
	f, _ := countedFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
	app, err := f.portal.CreateApplication(actx, portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.portal.Import(actx, app.Application.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "1", Email: "x@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	recent := client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(auth.WithSession(r.Context(), auth.Session{UserID: alice.ID, ID: "test", SignedInAt: time.Now()}))
		f.handler.ServeHTTP(w, r)
	}))
	var got struct {
		UndoImport struct {
			Source struct {
				Application struct{ Name string }
				Rows        struct{ TotalCount int }
			}
		}
	}
	err = recent.Post(`mutation($app: ID!, $src: ID!) { undoImport(input: {applicationId: $app, sourceId: $src}) {
		source { application { name } rows(first: 1) { totalCount } } } }`, &got,
		client.Var("app", app.Application.ID), client.Var("src", run.Source.ID))
	if err != nil {
		t.Fatalf("undoImport { source { application rows } }: %v", err)
	}
	if s := got.UndoImport.Source; s.Application.Name != "A" || s.Rows.TotalCount != 1 {
		t.Errorf("undone run answered %+v, want application A and its 1 row", s)
	}
}
