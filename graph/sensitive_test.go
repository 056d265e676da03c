package graph_test

import (
	"os"
	"strings"
	"testing"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSensitiveFieldsStayOutOfGraphQL fails when a field marked Sensitive() in ent/schema
// appears in the generated GraphQL schema, or a hidden secret-bearing type becomes reachable.
func TestSensitiveFieldsStayOutOfGraphQL(t *testing.T) {
	t.Parallel()
	graph, err := entc.LoadGraph("../ent/schema", &gen.Config{})
	if err != nil {
		t.Fatalf("loading ent schema: %v", err)
	}
	schema := loadSchema(t)
	checked := 0
	for _, n := range graph.Nodes {
		for _, f := range n.Fields {
			if !f.Sensitive() {
				continue
			}
			checked++
			if def := schema.Types[n.Name]; def != nil {
				for _, gf := range def.Fields {
					if strings.EqualFold(gf.Name, strings.ReplaceAll(f.Name, "_", "")) {
						t.Errorf("GraphQL type %s exposes sensitive field %s", n.Name, f.Name)
					}
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("found only %d sensitive fields; is the schema loaded?", checked)
	}
	for _, hidden := range []string{"RefreshToken", "SigningKey", "Sequence", "RelayContact", "AuditEvent", "RetiredAlias"} {
		if schema.Types[hidden] != nil {
			t.Errorf("GraphQL exposes the internal type %s", hidden)
		}
	}
	// A developer must not reach the people behind connections, nor the owner's account.
	for typ, field := range map[string]string{"AppConnection": "user", "Application": "owner"} {
		if def := schema.Types[typ]; def != nil && def.Fields.ForName(field) != nil {
			t.Errorf("GraphQL exposes %s.%s", typ, field)
		}
	}
}

func loadSchema(t *testing.T) *ast.Schema {
	t.Helper()
	var sources []*ast.Source
	entries, err := os.ReadDir("../schema")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".graphql") {
			b, err := os.ReadFile("../schema/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, &ast.Source{Name: e.Name(), Input: string(b)})
		}
	}
	s, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		t.Fatalf("parsing schema: %v", err)
	}
	return s
}
