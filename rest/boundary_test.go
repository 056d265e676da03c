package rest_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// REST speaks the domain's page structs (portal.UsersPage, licenses.CodeQuery.AfterText,
// webhooks.EventQuery.AfterText) and cursor text (store.CursorText): no handler imports
// entgql or builds an ent ordering; the domain turns pages into ent's arguments.
func TestRESTDoesNotBuildEntPaging(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	ordering := regexp.MustCompile(`\bent\.\w*Order(Field\w*)?\b|entgql\.`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		n++
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "entgo.io/contrib/entgql" {
				t.Errorf("%s imports entgql", f)
			}
		}
		if m := ordering.Find(src); m != nil {
			t.Errorf("%s uses %s", f, m)
		}
	}
	if n < 5 {
		t.Fatalf("read only %d files", n)
	}
}
