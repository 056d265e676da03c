package graph

import (
	"context"
	"reflect"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// wholeLogReads are the fields that read up to every row of a log that nothing bounds but time
// and the rate limits, with the arguments that make them do so (none: always). The
// application's delivery log (a free account keeps some 216,000 test events in its 30 days),
// an event's deliveries (a team's redeliveries of one event, 30 a minute, some 1.3 million in
// the log's 30 days) and the application's import runs (30 an hour, kept for good) are
// counted whole by their totalCount; a page of a rare status or delivery walks them all, the
// filter kept after; the application's activity walks past the sign-ins it never shows, and
// the person's, with types or an application, past the events of other types, up to 400
// days of them (activity.DefaultRetention). Priced as a plain field, some 950 aliased
// webhookEvents(first: 0) { totalCount } fitted in one operation.
//
// Each is priced analyticsCost once for each time the operation asks it (every alias and
// fragment spread counted), and again for each row of any list it sits in (the applications
// of a page, the ids of nodes(ids:), the rows of an import's results, whose source is read
// for each): not for the rows of its own connection, whose count is
// read once, nor, for an event's deliveries, for the events of one page of the delivery log,
// whose deliveries together are that application's deliveries, read once. Priced for each row
// as an aggregate, the portal's own pages (its import runs, 20 to a page) passed the limit.
var wholeLogReads = map[string][]string{
	"WebhookEventConnection.totalCount":   nil,
	"WebhookAttemptConnection.totalCount": nil,
	"ImportSourceConnection.totalCount":   nil,
	"Application.activity":                nil,
	"Application.webhookEvents":           {"status"},
	"WebhookEvent.deliveries":             {"where"},
	"User.activity":                       {"types", "applicationId"},
}

// eventLogReads are the wholeLogReads of one webhook event's deliveries.
var eventLogReads = map[string]bool{
	"WebhookAttemptConnection.totalCount": true,
	"WebhookEvent.deliveries":             true,
}

// reads counts the wholeLogReads of a selection: log once for each object the selection is of,
// rows once for each row of a list it sits in, not yet priced with that list's page (the
// edges of a connection, the events of an activity page); events and eventRows the same for
// the reads of an event's deliveries.
type reads struct{ log, rows, events, eventRows int }

// plus is r and o together, each count at most ceiling.
func (r reads) plus(o reads, ceiling int) reads {
	return reads{min(r.log+o.log, ceiling), min(r.rows+o.rows, ceiling),
		min(r.events+o.events, ceiling), min(r.eventRows+o.eventRows, ceiling)}
}

// total is every read of r, at most ceiling.
func (r reads) total(ceiling int) int {
	return min(r.log+r.rows+r.events+r.eventRows, ceiling)
}

// logReads adds to s, the shape of f's selection, the reads of f itself (wholeLogReads) and prices
// the reads of the rows f lists with its page.
func (w *shapeWalker) logReads(f *ast.Field, s shape) shape {
	if f.Definition == nil || f.ObjectDefinition == nil {
		return s
	}
	key := f.ObjectDefinition.Name + "." + f.Name
	args := f.ArgumentMap(w.vars)
	r, n := s.reads, pageRows(f.ObjectDefinition.Name, f.Name, args)
	times := func(a int) int { return min(a*n, w.ceiling) } // a is at most the ceiling, n 1<<20
	if key == "ImportRow.source" {
		n = max(n, w.imported) // once per row of an import's results (importedRows)
	}
	switch ownPage := key == "Query.nodes" || boundedLists[key] > 0 || key == "ImportRow.source"; {
	case f.Definition.Type.Elem != nil && !ownPage:
		// The rows of a page its connection asks for (edges, nodes, events).
		r = reads{rows: min(r.log+r.rows, w.ceiling), eventRows: min(r.events+r.eventRows, w.ceiling)}
	case ownPage:
		// Its own rows (nodes(ids:)'s ids, a bounded list's, an import's rows' source).
		r = reads{log: times(r.log + r.rows), events: times(r.events + r.eventRows)}
	case key == "Application.webhookEvents":
		// One page of the application's events: their deliveries are the application's.
		r = reads{log: min(r.log+times(r.rows)+r.eventRows, w.ceiling), events: r.events}
	default:
		r = reads{log: min(r.log+times(r.rows), w.ceiling), events: min(r.events+times(r.eventRows), w.ceiling)}
	}
	if filters, ok := wholeLogReads[key]; ok && (filters == nil || anyGiven(args, filters)) {
		if eventLogReads[key] {
			r.events = min(r.events+1, w.ceiling)
		} else {
			r.log = min(r.log+1, w.ceiling)
		}
	}
	s.reads = r
	return s
}

// anyGiven reports whether args give any of names: an argument set to null or to an
// empty list or input filters nothing.
func anyGiven(args map[string]any, names []string) bool {
	for _, name := range names {
		v := reflect.ValueOf(args[name])
		switch v.Kind() {
		case reflect.Invalid:
			continue
		case reflect.Slice, reflect.Map:
			if v.Len() == 0 {
				continue
			}
		case reflect.Pointer:
			if v.IsNil() {
				continue
			}
		}
		return true
	}
	return false
}

// costLimit refuses an operation whose complexity (pagedComplexity), with analyticsCost for
// each whole log it reads (wholeLogReads, counted by shapeLimit, which runs before), passes limit
// (COMPLEXITY_LIMIT_EXCEEDED), as gqlgen's FixedComplexityLimit does. It keeps the cost in the
// same statistics, which principalLimit charges.
type costLimit struct {
	es    graphql.ExecutableSchema
	limit int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = costLimit{}

func (costLimit) ExtensionName() string                   { return "ComplexityLimit" }
func (costLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l costLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	cost := operationCost(ctx, l.es, oc)
	oc.Stats.SetExtension("ComplexityLimit", &extension.ComplexityStats{Complexity: cost, ComplexityLimit: l.limit})
	if cost > l.limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", cost, l.limit)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

// operationCost is the complexity of oc's operation and analyticsCost for each whole log it
// reads (wholeLogReads).
func operationCost(ctx context.Context, es graphql.ExecutableSchema, oc *graphql.OperationContext) int {
	cost := complexity.Calculate(ctx, es, oc.Operation, oc.Variables)
	if s, ok := oc.Stats.GetExtension("ShapeLimit").(shape); ok {
		cost += s.reads.total(MaxFields+1) * analyticsCost
	}
	return cost
}
