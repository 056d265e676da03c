package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"loginsign/graph"
	"loginsign/internal/store/storetest"
)

// TestEachIdOfNodesIsPricedAsANodeLookup (review helper gqlteamrev, checks13): every id of
// nodes(ids:) is a lookup of its own, its row and then whether the viewer may see it, exactly
// as node(id:) is, and node(id:) is priced as a root query field. nodes(ids:) was priced as its
// selection alone, once per id: one $ids of 100 ids under 166 aliases made 16,600 lookups (two
// queries each for an id that exists) for 19,920 points, where as many aliased node(id:) cost
// 20 times that and are refused. The same ids, whichever of the two fields asks for them, now
// meet the same limit; one nodes(ids:) of 100 ids still runs.
func TestEachIdOfNodesIsPricedAsANodeLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "")
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("app_missing%d", i)
	}
	// As many ids as aliased node(id:) fields the limit refuses.
	aliases := graph.MaxComplexity/21/len(ids) + 1
	var many strings.Builder
	many.WriteString(`query($ids: [ID!]!) {`)
	for i := range aliases {
		fmt.Fprintf(&many, " n%d: nodes(ids: $ids) { id }", i)
	}
	many.WriteString(" }")
	var got map[string]any
	err := f.as(alice.ID).Post(many.String(), &got, client.Var("ids", ids))
	if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("%d aliased nodes(ids:) of %d ids each (%d lookups): %v, want COMPLEXITY_LIMIT_EXCEEDED", aliases, len(ids), aliases*len(ids), err)
	}
	var single strings.Builder
	single.WriteString(`{`)
	for i := range aliases * len(ids) {
		fmt.Fprintf(&single, " n%d: node(id: \"app_missing%d\") { id }", i, i%len(ids))
	}
	single.WriteString(" }")
	if err := f.as(alice.ID).Post(single.String(), &got); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("%d aliased node(id:): %v, want COMPLEXITY_LIMIT_EXCEEDED", aliases*len(ids), err)
	}
	if err := f.as(alice.ID).Post(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, &got, client.Var("ids", ids)); err != nil &&
		strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("one nodes(ids:) of %d ids: %v", len(ids), err)
	}
}
