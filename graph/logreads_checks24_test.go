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
	"loginsign/internal/activity"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
	"loginsign/internal/webhooks"
)

// logFixture is a fixture whose handler also reads the delivery and activity logs, with an
// application of alice's holding a delivered event of two deliveries and an import run.
type logFixture struct {
	*fixture
	alice, app, event string
}

func newLogFixture(t *testing.T) logFixture {
	t.Helper()
	f := newFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
	app, err := f.portal.CreateApplication(actx, portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.portal.Import(actx, app.Application.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "1", Email: "x@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	event := f.db.Client.WebhookEvent.Create().SetApplicationID(app.Application.ID).SetType("test").SetPayload("{}").
		SetStatus("delivered").SaveX(ctx)
	for a := range 2 {
		f.db.Client.WebhookAttempt.Create().SetEventID(event.ID).SetAttempt(a + 1).SetStatusCode(500 - 296*a).ExecX(ctx)
	}
	log := &activity.Service{DB: f.db, Now: time.Now, Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
		return f.portal.Authorize(ctx, appID, team.ReadActivity)
	}}
	f.handler = graph.NewHandler(&graph.Resolver{Client: f.db.Client, Identity: f.identity, Portal: f.portal,
		Webhooks: &webhooks.Service{DB: f.db}, Activity: log}, slog.New(slog.DiscardHandler))
	return logFixture{fixture: f, alice: alice.ID, app: app.Application.ID, event: event.ID}
}

// TestAliasesOfAWholeLogReadArePricedAsAggregates (review helper pricing24, checks24): the
// delivery log's, an event's deliveries' and the import runs' totalCount, webhookEvents with
// status, deliveries with where and the activity logs with a filter each read up to every row
// of a log that only time bounds, and were priced as a plain field or a query: some 950
// aliases of webhookEvents(first: 0) { totalCount } fitted in one operation. Each is now
// priced as an aggregate (1,000 points) for each alias and for each row of a list it sits in
// (the ids of nodes(ids:)): as many as the limit allows aggregates are refused, a few still
// run.
func TestAliasesOfAWholeLogReadArePricedAsAggregates(t *testing.T) {
	t.Parallel()
	f := newLogFixture(t)
	n := graph.MaxComplexity/1000 + 1 // more aliases than aggregates the limit allows
	for _, c := range []struct{ on, field string }{
		{"application", "webhookEvents(first: 0) { totalCount }"},
		{"application", "webhookEvents(first: 1, status: FAILED) { pageInfo { hasNextPage } }"},
		{"application", "importSources(first: 0) { totalCount }"},
		{"application", "activity(first: 1) { nextCursor }"},
		{"event", "deliveries(first: 0) { totalCount }"},
		{"event", "deliveries(first: 1, where: {statusCode: 599}) { pageInfo { hasNextPage } }"},
		{"viewer", "activity(first: 1, types: [ADDRESS_ADDED]) { nextCursor }"},
	} {
		aliases := func(n int) string {
			var q strings.Builder
			switch c.on {
			case "application":
				q.WriteString(`query($app: ID!) { application(id: $app) {`)
			case "event":
				q.WriteString(`query($event: ID!) { node(id: $event) { ... on WebhookEvent {`)
			default:
				q.WriteString(`{ viewer {`)
			}
			for i := range n {
				fmt.Fprintf(&q, " a%d: %s", i, c.field)
			}
			if c.on == "event" {
				q.WriteString(" }")
			}
			q.WriteString(" } }")
			return q.String()
		}
		var vars []client.Option
		switch c.on {
		case "application":
			vars = append(vars, client.Var("app", f.app))
		case "event":
			vars = append(vars, client.Var("event", f.event))
		}
		var got map[string]any
		if err := f.as(f.alice).Post(aliases(n), &got, vars...); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Errorf("%d aliased %s: %.300v, want COMPLEXITY_LIMIT_EXCEEDED", n, c.field, err)
		}
		if err := f.as(f.alice).Post(aliases(3), &got, vars...); err != nil {
			t.Errorf("3 aliased %s: %v", c.field, err)
		}
	}

	// The same event listed again and again is read again each time.
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.event
	}
	var got map[string]any
	err := f.as(f.alice).Post(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on WebhookEvent { deliveries(first: 0) { totalCount } } } }`,
		&got, client.Var("ids", ids))
	if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("nodes of %d ids, each with its deliveries' totalCount: %.300v, want COMPLEXITY_LIMIT_EXCEEDED", n, err)
	}
}

// TestThePortalsLogPagesStillRun (review helper pricing24, checks24): priced for each row as
// an aggregate, a count under a page was multiplied by the page, and the portal's own pages
// passed the limit (20,281 points for its import runs, more for the delivery log with each
// event's deliveries). A connection's count is read once for the connection, and the
// deliveries of one page of events once for the page: the portal's pages, with the largest
// page it asks for, run and answer.
func TestThePortalsLogPagesStillRun(t *testing.T) {
	t.Parallel()
	f := newLogFixture(t)
	var log, runs map[string]any
	err := f.as(f.alice).Post(`query($app: ID!) { application(id: $app) { webhookEvents(first: 50, status: DELIVERED) {
		totalCount edges { node { id type status attempts deliveries(first: 10) { totalCount edges { node { attempt statusCode } } } } } } } }`,
		&log, client.Var("app", f.app))
	events := dig(log, "application", "webhookEvents")
	edges, _ := events["edges"].([]any)
	if err != nil || events["totalCount"] != 1.0 || len(edges) != 1 || dig(edges[0].(map[string]any), "node", "deliveries")["totalCount"] != 2.0 {
		t.Errorf("the delivery log with each event's deliveries = %v, %v; want 1 event of 2 deliveries", log, err)
	}
	err = f.as(f.alice).Post(`query($app: ID!) { application(id: $app) { importSources(first: 50) { totalCount edges { node {
		id name kind total createdAt rolledBackAt counts { imported alreadyConnected notFound nameMismatch invalidRow } } } } } }`,
		&runs, client.Var("app", f.app))
	if err != nil || dig(runs, "application", "importSources")["totalCount"] != 1.0 {
		t.Errorf("the import runs = %v, %v; want 1", runs, err)
	}
	var got map[string]any
	if err := f.as(f.alice).Post(`query($app: ID!) { application(id: $app) { activity(first: 50) { events { id type actor connectionId details { key value } at } } } }`,
		&got, client.Var("app", f.app)); err != nil {
		t.Errorf("the application's activity: %v", err)
	}
	if err := f.as(f.alice).Post(`{ viewer { activity(first: 20, types: [ADDRESS_ADDED]) { events { id type actor applicationName connectionId details { key value } at } nextCursor } } }`, &got); err != nil {
		t.Errorf("the person's activity of one type: %v", err)
	}
}

// dig is the object at path in m, nil when there is none.
func dig(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		m, _ = m[k].(map[string]any)
	}
	return m
}
