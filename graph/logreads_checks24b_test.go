package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"loginsign/graph"
)

// TestAWholeLogReadUnderAnImportsResultsIsPricedPerRow: an import's results list every row it
// was sent, each with the run's source, and the selection under source runs once per row. A
// whole-log read there (the delivery log's totalCount through the source's application) was
// priced as one aggregate however many rows: one import of some 450 rows counted the log 450
// times within the limit. It is now priced once per row sent; the portal's own import still
// runs.
func TestAWholeLogReadUnderAnImportsResultsIsPricedPerRow(t *testing.T) {
	t.Parallel()
	f := newLogFixture(t)
	users := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"externalUserId": fmt.Sprint("r", n, "-", i), "email": fmt.Sprintf("r%d-%d@example.com", n, i)}
		}
		return out
	}
	const mutation = `mutation($id: ID!, $users: [ImportUserInput!]!) { importAppUsers(input: {applicationId: $id, users: $users}) { %s } }`
	n := graph.MaxComplexity/1000 + 5
	var got map[string]any
	err := f.as(f.alice).Post(fmt.Sprintf(mutation, "results { row source { application { webhookEvents(first: 0) { totalCount } } } }"),
		&got, client.Var("id", f.app), client.Var("users", users(n)))
	if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("%d rows, each counting the delivery log: %.300v, want COMPLEXITY_LIMIT_EXCEEDED", n, err)
	}
	err = f.as(f.alice).Post(fmt.Sprintf(mutation, "source { id application { webhookEvents(first: 0) { totalCount } } } results { row source { id } }"),
		&got, client.Var("id", f.app), client.Var("users", users(n)))
	if err != nil {
		t.Errorf("the delivery log counted once beside %d rows: %.300v", n, err)
	}
}
