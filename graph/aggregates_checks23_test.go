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
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
	"loginsign/internal/webhooks"
)

// TestEveryCountOrFilterThatReadsAWholeLogIsPricedAsAnAggregate (review helper cost23,
// checks23): after users and licenseCodes (TestTheApplicationsWholeListsArePricedAsAggregates)
// the other lists whose count or filter reads up to every row were still priced as a query,
// 20 points an alias: the delivery log's totalCount and status (a free account keeps some
// 216,000 test events for 30 days), an event's deliveries' totalCount and where (a team's
// redeliveries of one event, up to the application's 30 a minute), the import runs'
// totalCount (30 an hour, kept for good) and the application's activity (newest first past
// every sign-in, which it never shows, over 400 days): some 950 aliases fitted in one
// operation. Each alias is now priced as an analytics aggregate: 21 are refused with the
// complexity error, as 21 analytics fields are, and a few still run. A page without a count
// or filter is still priced as the page it reads: the portal's delivery log, 100 aliases of
// it, still runs.
func TestEveryCountOrFilterThatReadsAWholeLogIsPricedAsAnAggregate(t *testing.T) {
	t.Parallel()
	f, _ := countedFixture(t, storetest.SQLite(t))
	f.handler = graph.NewHandler(&graph.Resolver{Client: f.db.Client, Identity: f.identity, Portal: f.portal,
		Licenses: licenses.New(f.db, f.portal.Authorize, time.Now),
		Webhooks: &webhooks.Service{DB: f.db, Now: time.Now},
		Activity: &activity.Service{DB: f.db, Now: time.Now, Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
			return f.portal.Authorize(ctx, appID, team.ReadActivity)
		}}}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	event, err := f.db.Client.WebhookEvent.Create().SetApplicationID(app.Application.ID).SetType("test").SetPayload("{}").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	aliased := func(on, field string, n int) string {
		var q strings.Builder
		fmt.Fprintf(&q, "query($id: ID!) { %s(id: $id) { ... on %s {", map[bool]string{true: "application", false: "node"}[on == "Application"], on)
		for i := range n {
			fmt.Fprintf(&q, " a%d: %s", i, field)
		}
		q.WriteString(" } } }")
		return q.String()
	}
	for _, c := range []struct{ on, id, field string }{
		{"Application", app.Application.ID, `webhookEvents(first: 1) { totalCount }`},
		{"Application", app.Application.ID, `webhookEvents(first: 1, status: FAILED) { edges { cursor } }`},
		{"Application", app.Application.ID, `importSources(first: 1) { totalCount }`},
		{"Application", app.Application.ID, `activity(first: 1) { nextCursor }`},
		{"Application", app.Application.ID, `activity(first: 1, types: [IMPORT_RUN]) { nextCursor }`},
		{"WebhookEvent", event.ID, `deliveries(first: 1) { totalCount }`},
		{"WebhookEvent", event.ID, `deliveries(first: 1, where: {statusCode: 500}) { edges { cursor } }`},
	} {
		var got map[string]any
		err := f.as(alice.ID).Post(aliased(c.on, c.field, 21), &got, client.Var("id", c.id))
		if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Errorf("21 aliases of %s: %v, want COMPLEXITY_LIMIT_EXCEEDED (as 21 analytics fields)", c.field, err)
		}
		if err := f.as(alice.ID).Post(aliased(c.on, c.field, 5), &got, client.Var("id", c.id)); err != nil {
			t.Errorf("5 aliases of %s: %v", c.field, err)
		}
	}
	for _, c := range []struct{ on, id, field string }{
		{"Application", app.Application.ID, `webhookEvents(first: 1) { edges { cursor } }`},
		{"Application", app.Application.ID, `webhookEvents(first: 1, status: null) { edges { cursor } }`},
		{"WebhookEvent", event.ID, `deliveries(first: 1) { edges { cursor } }`},
	} {
		var got map[string]any
		if err := f.as(alice.ID).Post(aliased(c.on, c.field, 100), &got, client.Var("id", c.id)); err != nil {
			t.Errorf("100 aliases of %s (a page, no count): %v", c.field, err)
		}
	}
}
