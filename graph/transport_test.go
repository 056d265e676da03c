package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Request errors answer per GraphQL over HTTP: 200 with errors for application/json, 400 for
// application/graphql-response+json, never a data entry; malformed requests 400 either way;
// a mutation over GET 405; an unacceptable Accept 406. Every answer is Cache-Control: no-store
// (the data is the signed-in person's).
func TestGraphQLOverHTTPStatuses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		const gqlResp = "application/graphql-response+json"
		for _, tc := range []struct {
			name, method, target, body, accept string
			status                             int
			contentType, wantBody              string
		}{
			{"parse error, json", "POST", "/graphql", `{"query":"{"}`, "application/json", 200, "application/json", `GRAPHQL_PARSE_FAILED`},
			{"parse error, graphql-response", "POST", "/graphql", `{"query":"{"}`, gqlResp, 400, gqlResp, `GRAPHQL_PARSE_FAILED`},
			{"validation error, json", "POST", "/graphql", `{"query":"{ nope }"}`, "application/json", 200, "application/json", `GRAPHQL_VALIDATION_FAILED`},
			{"validation error, no Accept", "POST", "/graphql", `{"query":"{ nope }"}`, "", 200, "application/json", `GRAPHQL_VALIDATION_FAILED`},
			{"variable coercion, graphql-response", "POST", "/graphql", `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":{}}}`, gqlResp, 400, gqlResp, `"errors"`},
			{"bad JSON", "POST", "/graphql", `{"query":`, "application/json", 400, "application/json", `"code":"BAD_REQUEST"`},
			{"query not a string", "POST", "/graphql", `{"query":5}`, gqlResp, 400, gqlResp, `"code":"BAD_REQUEST"`},
			{"no query", "POST", "/graphql", `{"variables":{}}`, "application/json", 400, "application/json", `"query is required"`},
			{"mutation over GET", "GET", "/graphql?query=" + strings.ReplaceAll("mutation { createApplication(input: {name: \"x\"}) { clientSecret } }", " ", "%20"), "", "application/json", 405, "application/json", `"GET carries only queries`},
			{"unacceptable Accept", "POST", "/graphql", `{"query":"{ __typename }"}`, "text/html", 406, "application/json", `"errors"`},
			{"success keeps data", "POST", "/graphql", `{"query":"{ __typename }"}`, gqlResp, 200, gqlResp, `"data":{"__typename":"Query"}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
				if tc.method == "POST" {
					r.Header.Set("Content-Type", "application/json")
				}
				if tc.accept != "" {
					r.Header.Set("Accept", tc.accept)
				}
				w := httptest.NewRecorder()
				f.handler.ServeHTTP(w, r)
				body := w.Body.String()
				if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.contentType) || !strings.Contains(body, tc.wantBody) {
					t.Fatalf("%d %s %s; want %d %s containing %s", w.Code, w.Header().Get("Content-Type"), body, tc.status, tc.contentType, tc.wantBody)
				}
				if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
				if tc.status != http.StatusOK || strings.Contains(tc.name, "error") || strings.Contains(tc.name, "coercion") {
					if strings.Contains(body, `"data"`) {
						t.Fatalf("request error carries a data entry: %s", body)
					}
				}
			})
		}
	})
}
