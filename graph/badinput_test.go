package graph_test

import (
	"strings"
	"testing"

	"loginsign/internal/portal"
)

// Found by the sweep of bad argument values (TestGraphQLBadInput): each was an error without
// a code or "internal error" (logged at ERROR) after the database had been asked. Each is
// refused before anything is read, with its code, and nothing is logged.
func TestBadArgumentValuesAreRefusedWithTheirCode(t *testing.T) {
	t.Parallel()
	r := newRefusals(t)
	if _, err := r.portal.Import(r.asAlice(), r.app.ID, portal.ImportRequest{
		Users: []portal.ImportUser{{ExternalUserID: "1", Email: "imported@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1000000)
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"an empty cursor of a connection read with its parent",
			`query($app: ID!) { application(id: $app) { importSources(first: 1) { edges { node { rows(first: 1, after: "") { totalCount } } } } } }`,
			map[string]any{"app": r.app.ID},
			`{"message":"rows: after is not a cursor this list gave out","locations":[{"line":1,"column":85}],"extensions":{"code":"invalid_request"}}`},
		{"both first and last",
			`{ viewer { applications(first: 2, last: 2) { totalCount } } }`, nil,
			`{"message":"applications: give first or last, not both","locations":[{"line":1,"column":12}],"extensions":{"code":"INVALID_PAGINATION"}}`},
		{"a megabyte of text in a where argument",
			`query($s: String) { applications(first: 5, where: {nameContains: $s}) { totalCount } }`, map[string]any{"s": long},
			`{"message":"applications: where holds a text of 1000000 bytes; the limit is 8192","locations":[{"line":1,"column":21}],"extensions":{"code":"invalid_request"}}`},
		{"a megabyte of text in a where argument's list",
			`query($s: String!) { applications(first: 5, where: {nameIn: ["a", $s]}) { totalCount } }`, map[string]any{"s": long},
			`{"message":"applications: where holds a text of 1000000 bytes; the limit is 8192","locations":[{"line":1,"column":22}],"extensions":{"code":"invalid_request"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) { r.wantOneError(t, tc.query, tc.vars, tc.want) })
	}
}
