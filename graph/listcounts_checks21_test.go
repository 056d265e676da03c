package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestTheApplicationsWholeListsArePricedAsAggregates (review helper analyst21, checks21): an
// application's users and license codes, asked with a filter (search, region, q, state…) or
// for their totalCount, read up to every row of the application (a count, or the index walked
// until a page of matches is found), as an analytics aggregate does: the README measures the
// first page with its total at 154 ms over a million people, and sign-ups per day at 31 ms.
// Analytics fields cost 1,000 points, so that one operation asks for at most 20 aggregates,
// but users and licenseCodes cost 20: some 950 aliases of users(first: 1, filter: {search:
// "zz"}) { totalCount } fitted in one operation (over a minute of the database at those
// measures), and as many counts of the million license codes any free account may generate
// for its own application (10,000 a generation, 60 an hour). Each alias is now priced as an
// aggregate: 21 of them are refused, as 21 analytics fields are, and a few still run.
func TestTheApplicationsWholeListsArePricedAsAggregates(t *testing.T) {
	t.Parallel()
	f, _ := countedFixture(t, storetest.SQLite(t)) // the fixture with the licenses domain
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`users(first: 1, filter: {search: "zz"}) { totalCount }`, `licenseCodes(first: 1, q: "zz") { totalCount }`} {
		aliases := func(n int) string {
			var q strings.Builder
			fmt.Fprintf(&q, "{ application(id: %q) {", app.Application.ID)
			for i := range n {
				fmt.Fprintf(&q, " a%d: %s", i, field)
			}
			q.WriteString(" } }")
			return q.String()
		}
		var got map[string]any
		if err := f.as(alice.ID).Post(aliases(21), &got); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Errorf("21 aliases of %s: %v, want COMPLEXITY_LIMIT_EXCEEDED (as 21 analytics fields)", field, err)
		}
		if err := f.as(alice.ID).Post(aliases(5), &got); err != nil {
			t.Errorf("5 aliases of %s: %v", field, err)
		}
	}
}
