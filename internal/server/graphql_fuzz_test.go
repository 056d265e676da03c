package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"loginsign/internal/licenses"
)

// FuzzGraphQLEndpoint sends arbitrary bytes as the body of POST /graphql, signed in as a
// developer, announced or chunked. Whatever arrives, the answer is a client error or a GraphQL
// result — never a 5xx, never a non-JSON body. `make test` runs the seed corpus; `go test
// -fuzz FuzzGraphQLEndpoint -run '^$' .` explores further.
func FuzzGraphQLEndpoint(f *testing.F) {
	e := newAPIEnvWith(f, "sqlite://"+filepath.Join(f.TempDir(), "fuzz.db"), licenses.RedeemLimits{},
		map[string]string{"LOGINSIGN_GRAPHQL_MAX_BODY": "65536"}, io.Discard)
	cookie := "ls_session=" + e.cookie(e.dev).Value
	app := e.app.ID
	for _, seed := range []string{
		`{"query":"{ viewer { id globalID } }"}`,
		fmt.Sprintf(`{"query":"{ application(id: %q) { name analytics { usersPerRegion { region count } } } }"}`, app),
		fmt.Sprintf(`{"query":"query($id: ID!) { application(id: $id) { licenseCodes(q: \"x\") { totalCount } } }","variables":{"id":%q}}`, app),
		fmt.Sprintf(`{"query":"mutation { redeemLicenseCode(applicationId: %q, code: \"AAAA-BBBB\") { code } }"}`, app),
		`{"query":"{ viewer { id } }","variables":{"id":{"nested":[1,2,{"x":null}]}}}`,
		`{"query":"{ applications(first: 1000000000) { edges { node { id } } } }"}`,
		`{"query":"{ a: viewer { id } b: viewer { id } c: viewer { id } }"}`,
		`{"query":"{ viewer { id } }", "operationName": "Nope"}`,
		`{"query":"query A { viewer { id } } query B { viewer { id } }"}`,
		`{"query":"{ viewer { ...F } } fragment F on User { ...F }"}`,
		`{"query":"{ __schema { types { name fields { name type { ofType { ofType { name } } } } } } }"}`,
		`{"query":"{ viewer { id } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`,
		`{"query":"\u0000"}`,
		`{"query":"{ application(id: \"\\u0000\") { id } }"}`,
		"{\"query\":\"{ viewer { id } } \xff\xfe\"}",
		`[{"query":"{ viewer { id } }"}]`,
		`{"query":` + strings.Repeat("[", 10000),
		`{"query":"` + strings.Repeat("{ viewer ", 3000) + `"}`,
		`{"query":"` + strings.Repeat("a", 70000) + `"}`,
		`{"query":123}`, `null`, `""`, `{}`, ``, `{"query":"{"}`, `{"query":"mutation"}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	client := &http.Client{}
	f.Fuzz(func(t *testing.T, body []byte, chunked bool) {
		req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if chunked {
			req.ContentLength = -1
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", cookie)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, out)
		}
		var answer struct {
			Data   json.RawMessage   `json:"data"`
			Errors []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(out, &answer); err != nil || (answer.Data == nil && len(answer.Errors) == 0) {
			t.Fatalf("status %d, body %q is not a GraphQL response (%v), request %q", resp.StatusCode, out, err, body)
		}
		if bytes.Contains(out, []byte(`"code":"internal"`)) {
			t.Fatalf("internal error for %q: %s", body, out)
		}
	})
}
