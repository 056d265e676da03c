package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestEachAliasOfAPersonsListIsPricedAsAQuery (review helper gql14, checks14): the lists
// ent pages on the viewer (connections, emails, applications) run a query of their own for
// each alias, and were priced as their selection alone, 2 points for connections(first: 1)
// { totalCount }: 99 aliased viewers spreading one fragment of 100 such aliases made 9,900
// statements for 19,899 points, within one operation's limit. Each alias is now priced as
// the person's other lists (sessions, pendingLinks) are, a query: as many aliases as the
// limit allows queries are refused, and a handful still run.
func TestEachAliasOfAPersonsListIsPricedAsAQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "Alice")
	for _, field := range []string{"connections(first: 1) { totalCount }", "emails(first: 1) { totalCount }",
		"applications(first: 1) { totalCount }"} {
		var fragment strings.Builder
		fragment.WriteString("fragment F on User {")
		for i := range 100 {
			fmt.Fprintf(&fragment, " a%d: %s", i, field)
		}
		fragment.WriteString(" }")
		viewers := func(n int) string {
			var q strings.Builder
			q.WriteString("{")
			for i := range n {
				fmt.Fprintf(&q, " v%d: viewer { ...F }", i)
			}
			q.WriteString(" } " + fragment.String())
			return q.String()
		}
		var got map[string]any
		n := graph.MaxComplexity/(100*20) + 1 // more aliases than queries the limit allows
		err := f.as(alice.ID).Post(viewers(n), &got)
		if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Errorf("%d viewers of 100 aliased %s: %v, want COMPLEXITY_LIMIT_EXCEEDED", n, field, err)
		}
		if err := f.as(alice.ID).Post(viewers(2), &got); err != nil {
			t.Errorf("2 viewers of 100 aliased %s: %v", field, err)
		}
	}
}

// TestEachAliasOfAnalyticsIsPricedAsAQuery (review helper gql14, checks14): analytics checks
// the viewer's role on the application (a statement) for each alias, before any of its
// aggregates; priced as its selection alone, 1,000 aliased analytics { __typename } ran 1,000
// statements for 2,020 points. Each alias is now priced as a query.
func TestEachAliasOfAnalyticsIsPricedAsAQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	aliases := func(n int) string {
		var q strings.Builder
		q.WriteString("query($id: ID!) { application(id: $id) {")
		for i := range n {
			fmt.Fprintf(&q, " a%d: analytics { __typename }", i)
		}
		q.WriteString(" } }")
		return q.String()
	}
	var got map[string]any
	n := graph.MaxComplexity/20 + 1
	if err := f.as(alice.ID).Post(aliases(n), &got, client.Var("id", app.Application.ID)); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("%d aliased analytics: %v, want COMPLEXITY_LIMIT_EXCEEDED", n, err)
	}
	if err := f.as(alice.ID).Post(aliases(3), &got, client.Var("id", app.Application.ID)); err != nil {
		t.Errorf("3 aliased analytics: %v", err)
	}
}
