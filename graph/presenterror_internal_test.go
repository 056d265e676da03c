package graph

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// An error gqlgen raises reading an argument of a field (its path goes on through the
// argument's name) is the client's: invalid_request, on the field's path, nothing logged. A
// resolver's error on the field, or one deeper that names no argument, is still an internal
// error, hidden and logged.
func TestArgumentErrorsAreTheClients(t *testing.T) {
	t.Parallel()
	field := &ast.Field{Alias: "apps", Name: "applications", Position: &ast.Position{Line: 1, Column: 3},
		Definition: &ast.FieldDefinition{Name: "applications", Arguments: ast.ArgumentDefinitionList{{Name: "where"}}}}
	ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Field: graphql.CollectedField{Field: field}})
	for _, c := range []struct {
		name          string
		path          ast.Path
		message, code string
		logged        bool
	}{
		{"an argument", ast.Path{ast.PathName("apps"), ast.PathName("where"), ast.PathIndex(0), ast.PathName("createdAtGT")},
			"apps: argument where[0].createdAtGT: time should be RFC3339Nano formatted string", "invalid_request", false},
		{"the resolver", ast.Path{ast.PathName("apps")}, "internal error", "internal", true},
		{"no argument's name", ast.Path{ast.PathName("apps"), ast.PathName("edges")}, "internal error", "internal", true},
	} {
		var logged strings.Builder
		err := gqlerror.WrapPath(c.path, errors.New("time should be RFC3339Nano formatted string"))
		gerr := presentError(ctx, err, slog.New(slog.NewTextHandler(&logged, nil)))
		if gerr.Message != c.message || gerr.Extensions["code"] != c.code {
			t.Errorf("%s: %q %v, want %q %s", c.name, gerr.Message, gerr.Extensions, c.message, c.code)
		}
		if c.code == "invalid_request" && gerr.Path.String() != "apps" {
			t.Errorf("%s: path %s, want the field's", c.name, gerr.Path)
		}
		if got := strings.Contains(logged.String(), "level=ERROR"); got != c.logged {
			t.Errorf("%s: log %q", c.name, logged.String())
		}
	}
}
