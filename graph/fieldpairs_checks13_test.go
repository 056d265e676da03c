package graph_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/graph"
)

// TestRepeatedFieldsAreRefusedBeforeValidation (review helper anarev, checks13): gqlparser's
// validation compares every pair of fields that share a response name (OverlappingFieldsCanBeMerged),
// in time quadratic in their number, and it runs before every limit but the token count,
// whoever asks. A signed-out 110 kB document of 9,990 __typename held a core for 10 s and was
// then refused for its complexity, which charges nobody's budget; 900 fragments each selecting
// a: __typename, spread together, did the same through the comparisons between fragments. Such
// documents are now refused (QUERY_TOO_LARGE) before validation, as is a chain of 1,100 fragments
// each spreading the next (1.5 s: validation walks the chain again from each fragment) and 880
// distinct fragments spread side by side (0.5 s: each pair of spreads is compared); an operation that repeats a
// field a few times, directly or through fragments, still runs.
func TestRepeatedFieldsAreRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	h := graph.Endpoint(graph.NewHandler(&graph.Resolver{}, slog.New(slog.DiscardHandler)), graph.Limits{})
	post := func(query string) (int, string) {
		body, _ := json.Marshal(map[string]any{"query": query})
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	gen := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	var chain strings.Builder
	chain.WriteString("{ ...F0 }")
	for i := range 1100 {
		fmt.Fprintf(&chain, " fragment F%d on Query { ...F%d }", i, i+1)
	}
	chain.WriteString(" fragment F1100 on Query { __typename }")
	var side strings.Builder // distinct fragments selecting distinct names
	side.WriteString("{" + gen(880, " ...F%d") + " }")
	for i := range 880 {
		fmt.Fprintf(&side, " fragment F%d on Query { a%d: __typename }", i, i)
	}
	refused := map[string]string{
		"one field repeated":            "{" + strings.Repeat(" __typename", 3000) + " }",
		"one alias repeated":            "{" + strings.Repeat(" a: __typename", 1500) + " }",
		"fragments selecting one name":  "{" + gen(900, " ...F%d") + " }" + gen(900, " fragment F%d on Query { a: __typename }"),
		"merged selections of one name": "{" + strings.Repeat(" v: viewer {"+gen(50, " n%d: id")+" }", 50) + " }",
		"a chain of 1,100 fragments":    chain.String(),
		"880 fragments side by side":    side.String(),
	}
	for name, q := range refused {
		if status, body := post(q); !strings.Contains(body, `"QUERY_TOO_LARGE"`) {
			t.Errorf("%s (%d bytes): %d %.300s, want QUERY_TOO_LARGE", name, len(q), status, body)
		}
	}
	allowed := map[string]string{
		"a field asked a few times": `{ __typename __typename a: __typename a: __typename }`,
		"fragments sharing fields":  `{ ...A ...B __typename } fragment A on Query { __typename } fragment B on Query { __typename ...A }`,
		"a fragment cycle":          `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`,
	}
	for name, q := range allowed {
		if _, body := post(q); strings.Contains(body, `"QUERY_TOO_LARGE"`) {
			t.Errorf("%s: %.300s", name, body)
		}
	}
}
