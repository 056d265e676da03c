package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The schema is anyone's to read, signed out too, and gqlgen's complexity walk skips
// __schema: an operation of a hundred aliased copies of __schema { types { fields … } }
// (12 kB, under the token limit) cost 1 point and wrote 9 MB in 5 s of a core, and one
// address could send 200,000 of them a minute. An operation asks for the schema (__schema,
// __type) at most graph.MaxIntrospection times, aliases and fragment spreads counted, and
// each time costs its principal graph.IntrospectionCost; GraphiQL's one __schema still works.
func TestIntrospectionIsCountedAndPriced(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			id := identity.New(db, k, nil, identity.SessionConfig{})
			p := &portal.Service{DB: db}
			h := graph.Endpoint(graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: id, Portal: p}, slog.New(slog.DiscardHandler)),
				graph.Limits{Limiter: ratelimit.New(k), PerPrincipal: ratelimit.Rule{Name: "graphql-introspection-test", N: graph.IntrospectionCost * 3 / 2, Window: time.Minute}})
			ask := func(ip, query string) (code string, data bool) {
				body, _ := json.Marshal(map[string]string{"query": query})
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				// The budget is kept in k across the backends' runs: an address of each run's own.
				h.ServeHTTP(rec, req.WithContext(auth.WithClientIP(context.Background(), t.Name()+" "+ip)))
				var out struct {
					Data   map[string]any
					Errors []struct{ Extensions map[string]any }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
					t.Fatalf("%s: %v", rec.Body, err)
				}
				if len(out.Errors) > 0 {
					code, _ = out.Errors[0].Extensions["code"].(string)
				}
				return code, out.Data != nil
			}
			const schema = `__schema { types { name fields { name type { name } } inputFields { name } } }`
			var aliases, spreads strings.Builder
			aliases.WriteString("{")
			spreads.WriteString("query {")
			for i := range graph.MaxIntrospection + 1 {
				fmt.Fprintf(&aliases, " a%d: %s", i, schema)
				spreads.WriteString(" ...S")
			}
			aliases.WriteString(" }")
			spreads.WriteString(" } fragment S on Query { a: " + schema + " }")
			for name, q := range map[string]string{"aliases": aliases.String(), "fragment spreads": spreads.String(),
				"__type lookups": typesQuery(graph.MaxIntrospection + 1)} {
				if code, data := ask("192.0.2.10", q); code != "QUERY_TOO_LARGE" || data {
					t.Errorf("%s: %d copies of introspection: code %q (data %v), want QUERY_TOO_LARGE", name, graph.MaxIntrospection+1, code, data)
				}
			}
			// GraphiQL's query runs; the next one from the same address is over the budget.
			if code, data := ask("192.0.2.20", "{ "+schema+" }"); code != "" || !data {
				t.Fatalf("one __schema: code %q, data %v", code, data)
			}
			if code, _ := ask("192.0.2.20", "{ "+schema+" }"); code != "rate_limited" {
				t.Errorf("a second __schema within a budget of 1.5 introspections: code %q, want rate_limited", code)
			}
			if code, data := ask("192.0.2.21", "{ __typename }"); code != "" || !data {
				t.Errorf("another address: code %q, data %v", code, data)
			}
		})
	})
}

// typesQuery is an operation of n aliased __type lookups.
func typesQuery(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, ` t%d: __type(name: "User") { name fields { name } }`, i)
	}
	b.WriteString(" }")
	return b.String()
}
