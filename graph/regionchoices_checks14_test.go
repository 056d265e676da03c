package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"loginsign/graph"
	"loginsign/internal/profile"
	"loginsign/internal/store/storetest"
)

// TestRegionChoicesIsPricedAsItsLength (review helper gql14, checks14): regionChoices lists
// every region (about 250) and was priced as one: a hundred aliases of it under one profile
// wrote 25,000 objects for 240 points, and one operation within the limit some 2 million.
// It is now priced as the list it is: a hundred aliases are refused, one still runs.
func TestRegionChoicesIsPricedAsItsLength(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	f.handler = graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: f.identity, Portal: f.portal,
		Profiles: &profile.Service{DB: db, Now: time.Now}}, slog.New(slog.DiscardHandler))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "Alice")
	aliases := func(n int) string {
		var q strings.Builder
		q.WriteString("{ viewer { profile {")
		for i := range n {
			fmt.Fprintf(&q, " r%d: regionChoices { code name }", i)
		}
		q.WriteString(" } } }")
		return q.String()
	}
	var got map[string]any
	if err := f.as(alice.ID).Post(aliases(100), &got); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("100 aliased regionChoices: %v, want COMPLEXITY_LIMIT_EXCEEDED", err)
	}
	if err := f.as(alice.ID).Post(aliases(1), &got); err != nil {
		t.Errorf("regionChoices: %v", err)
	}
}
