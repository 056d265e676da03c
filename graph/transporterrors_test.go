package graph_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/store/storetest"
)

// Requests no transport takes, and persisted queries whose extension is wrong, are refused in
// the shape of every other request error, {"errors":[{"message","extensions":{"code"}}]} with
// no data entry: a method /graphql does not serve is 405 with Allow, a body that is not
// application/json 400. An unknown hash still answers PERSISTED_QUERY_NOT_FOUND, which Apollo
// clients read to send the document. Before, gqlgen answered 400 "transport not supported"
// with "data": null and no code, and the APQ errors had no code.
func TestTransportAndPersistedQueryRefusalsCarryACode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	const query = `{"query":"{ __typename }"}`
	refused := func(msg string) string {
		return `{"errors":[{"message":"` + msg + `","extensions":{"code":"BAD_REQUEST"}}]}`
	}
	notJSON := refused("the body of a POST must be application/json")
	for _, tc := range []struct {
		name, method, contentType, body, accept string
		upgrade                                 bool
		status                                  int
		allow, want                             string
	}{
		{"text/plain", "POST", "text/plain", query, "", false, 400, "", notJSON},
		{"application/graphql", "POST", "application/graphql", "{ __typename }", "", false, 400, "", notJSON},
		{"a form", "POST", "application/x-www-form-urlencoded", "query=%7B+__typename+%7D", "", false, 400, "", notJSON},
		{"multipart", "POST", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n{ __typename }\r\n--x--\r\n", "", false, 400, "", notJSON},
		{"no Content-Type", "POST", "", query, "", false, 400, "", notJSON},
		{"PUT", "PUT", "application/json", query, "", false, 405, "OPTIONS, GET, POST", refused("PUT is not supported; send GET or POST")},
		{"DELETE", "DELETE", "", "", "", false, 405, "OPTIONS, GET, POST", refused("DELETE is not supported; send GET or POST")},
		{"HEAD", "HEAD", "", "", "", false, 405, "OPTIONS, GET, POST", refused("HEAD is not supported; send GET or POST")},
		{"a WebSocket upgrade", "GET", "", "", "", true, 400, "", refused("protocol upgrades (WebSocket) are not supported; send GET or POST")},
		{"APQ hash of another document", "POST", "application/json", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, "", false, 200, "",
			refused("provided APQ hash does not match query")},
		{"APQ hash of another document, graphql-response", "POST", "application/json", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, "application/graphql-response+json", false, 400, "",
			refused("provided APQ hash does not match query")},
		{"APQ version 2", "POST", "application/json", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":2,"sha256Hash":"00"}}}`, "", false, 200, "",
			refused("unsupported APQ version")},
		{"APQ hash alone, unknown", "POST", "application/json", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, "", false, 200, "",
			`{"errors":[{"message":"PersistedQueryNotFound","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/graphql?query=%7B+__typename+%7D", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			if tc.upgrade {
				r.Header.Set("Connection", "Upgrade")
				r.Header.Set("Upgrade", "websocket")
			}
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("Allow") != tc.allow || strings.TrimSpace(w.Body.String()) != tc.want {
				t.Fatalf("%d Allow %q %s\nwant %d Allow %q %s", w.Code, w.Header().Get("Allow"), w.Body, tc.status, tc.allow, tc.want)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/") || !strings.Contains(ct, "json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
