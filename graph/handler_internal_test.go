package graph

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/store"
)

// An operation whose client went away (its context canceled) is logged at Info level, not
// as an internal error; the same error on a live operation is one. Either way the answer is
// "internal error".
func TestPresentErrorOfAClientGone(t *testing.T) {
	t.Parallel()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name  string
		ctx   context.Context
		err   error
		level string
	}{
		{"client gone", ended, fmt.Errorf("loading: %w", context.Canceled), "level=INFO"},
		{"client gone, domain error", ended, fmt.Errorf("%w: %w", apperr.New(apperr.Internal, "x"), context.Canceled), "level=INFO"},
		{"client still there", context.Background(), fmt.Errorf("loading: %w", context.Canceled), "level=ERROR"},
	} {
		var logged strings.Builder
		gerr := presentError(c.ctx, c.err, slog.New(slog.NewTextHandler(&logged, nil)))
		if gerr.Message != "internal error" {
			t.Errorf("%s: message %q, want internal error", c.name, gerr.Message)
		}
		if l := logged.String(); !strings.Contains(l, c.level) || strings.Count(l, "level=") != 1 {
			t.Errorf("%s: log %q, want one record at %s", c.name, l, c.level)
		}
	}
}

// Every where input type of the schema has its ent error in store.EmptyWhereInputs, so a filter that
// sets nothing is invalid_request on every list, including one added later.
func TestEveryWhereInputHasItsEmptyFilterError(t *testing.T) {
	t.Parallel()
	named := map[string]bool{}
	for _, err := range store.EmptyWhereInputs {
		named[strings.TrimPrefix(err.Error(), "ent: empty predicate ")] = true
	}
	for name, def := range NewExecutableSchema(Config{}).Schema().Types {
		if def.Kind == "INPUT_OBJECT" && strings.HasSuffix(name, "WhereInput") && !named[name] {
			t.Errorf("%s has no entry in store.EmptyWhereInputs", name)
		}
	}
}
