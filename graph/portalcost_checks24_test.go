package graph

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
)

// TestThePortalsOwnOperationsStayUnderTheLimit (review helper pricing24, checks24): pricing
// every count of a whole log as an aggregate for each row it sat under priced the portal's
// own pages past MaxComplexity (its import runs, 20 to a page, at 20,281 points), and CI
// failed. Every operation the first-party scripts send (internal/web/static/files/*.js, their
// operation tables and query constants), and the documents the server's portal tests send
// to the logs, is priced here as the handler prices it (shapeLimit, then costLimit), with the
// largest page the portal asks for (50) and every filter given: each stays under the limit,
// and those that read a whole log pay for it.
func TestThePortalsOwnOperationsStayUnderTheLimit(t *testing.T) {
	t.Parallel()
	es := pagedComplexity{NewExecutableSchema(Config{})}
	s := es.Schema()
	ops := map[string]string{
		// TestWebhookPortalRESTAndGraphQL and TestImportExistingUsers (internal/server).
		"server: delivery log by status": `query($id: ID!) { node(id: $id) { ... on Application { webhookEvents(first: 10, status: DELIVERED) {
			totalCount edges { node { id type status attempts deliveries(first: 10) { totalCount edges { node { attempt statusCode } } } } } } } } }`,
		"server: import runs": `query($app: ID!) { application(id: $app) { importSources(first: 50) { totalCount edges { node { id rolledBackAt counts { imported alreadyConnected notFound nameMismatch invalidRow } } } } } }`,
	}
	constant := regexp.MustCompile(`(?m)^\s*var ([A-Z_]+) = "([^"]*)";`)
	operation := regexp.MustCompile(`(?m)^\s*(?:\w+: |var [A-Z_]+ = )("(?:query|mutation) .*?"(?:\s*\+\s*[A-Z_]+\s*\+\s*".*?")*)[,;]?\s*$`)
	splice := regexp.MustCompile(`"\s*\+\s*([A-Z_]+)\s*\+\s*"`)
	files, err := filepath.Glob("../internal/web/static/files/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		consts := map[string]string{}
		for _, m := range constant.FindAllStringSubmatch(string(b), -1) {
			consts[m[1]] = m[2]
		}
		for _, m := range operation.FindAllStringSubmatch(string(b), -1) {
			op := splice.ReplaceAllStringFunc(m[1], func(x string) string { return consts[splice.FindStringSubmatch(x)[1]] })
			op = strings.Trim(op, `"`)
			ops[filepath.Base(f)+": "+strings.FieldsFunc(op, func(r rune) bool { return r == ' ' || r == '(' })[1]] = op
		}
	}
	if len(ops) < 60 {
		t.Fatalf("found %d operations; the extraction broke", len(ops))
	}
	// The largest page the portal asks for (users 25, codes 50), and every filter given.
	vars := map[string]any{"first": int64(50), "filter": map[string]any{"search": "zz"}, "q": "zz",
		"types": []any{"ADDRESS_ADDED"}, "after": nil}
	costs := map[string]int{}
	for name, op := range ops {
		doc, errs := gqlparser.LoadQueryWithRules(s, op, nil) // nil: the default rules
		if errs != nil {
			t.Errorf("%s: %v", name, errs)
			continue
		}
		oc := &graphql.OperationContext{RawQuery: op, Doc: doc, Operation: doc.Operations[0], Variables: vars}
		if err := (shapeLimit{maxDepth: MaxDepth, maxFields: MaxFields, schema: s}).MutateOperationContext(context.Background(), oc); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		costs[name] = operationCost(graphql.WithOperationContext(context.Background(), oc), es, oc)
		if costs[name] > MaxComplexity {
			t.Errorf("%s costs %d points, past MaxComplexity (%d)", name, costs[name], MaxComplexity)
		}
	}
	for _, name := range []string{"server: delivery log by status", "server: import runs", "portal.js: Imports",
		"portal.js: AppActivity", "dashboard.js: DashboardActivity"} {
		if costs[name] < analyticsCost {
			t.Errorf("%s costs %d points; it reads a whole log (%d)", name, costs[name], analyticsCost)
		}
	}
}
