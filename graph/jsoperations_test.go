package graph_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/graph"
)

var (
	// jsConst is a string constant spliced into operations: var APP_FIELDS = "id name";
	jsConst = regexp.MustCompile(`(?m)^\s*var ([A-Z_]+) = "([^"]*)";`)
	// jsOperation is one entry of a script's operation table: name: "query …" + X + "…",
	jsOperation = regexp.MustCompile(`(?m)^\s*\w+: ("(?:query|mutation) .*"),?\s*$`)
	jsSplice    = regexp.MustCompile(`"\s*\+\s*([A-Z_]+)\s*\+\s*"`)
)

// Every GraphQL operation the first-party scripts send (internal/web/static/files/*.js) is
// valid against the schema and uses no deprecated field: the pages move to a replacement in the
// release that deprecates the old name, so the old one can go in the next.
func TestFirstPartyOperationsAreValidAndCurrent(t *testing.T) {
	t.Parallel()
	s := graph.NewExecutableSchema(graph.Config{}).Schema()
	files, err := filepath.Glob("../internal/web/static/files/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		consts := map[string]string{}
		for _, m := range jsConst.FindAllStringSubmatch(src, -1) {
			consts[m[1]] = m[2]
		}
		for _, m := range jsOperation.FindAllStringSubmatch(src, -1) {
			op := jsSplice.ReplaceAllStringFunc(m[1], func(x string) string {
				return consts[jsSplice.FindStringSubmatch(x)[1]]
			})
			op = strings.Trim(op, `"`)
			n++
			doc, errs := gqlparser.LoadQueryWithRules(s, op, nil) // nil: the default rules
			if errs != nil {
				t.Errorf("%s: %q: %v", filepath.Base(f), op, errs)
				continue
			}
			for _, o := range doc.Operations {
				for _, d := range deprecatedUses(o.SelectionSet) {
					t.Errorf("%s: operation %s uses deprecated %s", filepath.Base(f), o.Name, d)
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("found %d operations in the scripts; the extraction broke", n)
	}
}

func deprecatedUses(set ast.SelectionSet) []string {
	var out []string
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			if x.Definition != nil && x.Definition.Directives.ForName("deprecated") != nil {
				out = append(out, x.ObjectDefinition.Name+"."+x.Name)
			}
			out = append(out, deprecatedUses(x.SelectionSet)...)
		case *ast.InlineFragment:
			out = append(out, deprecatedUses(x.SelectionSet)...)
		case *ast.FragmentSpread:
			out = append(out, deprecatedUses(x.Definition.SelectionSet)...)
		}
	}
	return out
}
