package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
)

// Limits bound what one query may ask for.
const (
	MaxComplexity = 20000
	MaxDepth      = 12
)

// NewHandler returns the /graphql endpoint.
func NewHandler(r *Resolver, log *slog.Logger) *handler.Server {
	srv := handler.New(pagedComplexity{NewExecutableSchema(Config{Resolvers: r})})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(overHTTP{}) // GET and POST with the GraphQL-over-HTTP status codes
	srv.SetQueryCache(smallOnly[*ast.QueryDocument]{lru.New[*ast.QueryDocument](1000)})
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: smallOnly[string]{lru.New[string](100)}})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(depthLimit{max: MaxDepth})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return presentError(ctx, err, log)
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql panic", "panic", v)
		return &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	})
	return srv
}

// presentError shows domain errors with extensions.code and hides everything else behind
// "internal error" (logged).
func presentError(ctx context.Context, err error, log *slog.Logger) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	var e *apperr.Error
	if errors.As(err, &e) {
		gerr.Message = e.MessageIn(i18n.FromContext(ctx))
		if gerr.Message == "" {
			gerr.Message = e.Name()
		}
		gerr.Extensions = map[string]any{"code": e.Name()}
		if e.Code == apperr.Internal && apperr.DependencyDown(err) {
			log.WarnContext(ctx, "graphql: dependency unavailable", "err", err)
			gerr.Message, gerr.Extensions = apperr.UnavailableMessage, map[string]any{"code": string(apperr.Unavailable)}
			return gerr
		}
		if e.Code == apperr.Internal {
			logInternal(ctx, log, err)
			gerr.Message = "internal error"
		}
		return gerr
	}
	var already *gqlerror.Error
	if errors.As(err, &already) && already.Extensions != nil {
		return gerr // validation and parse errors carry their own code
	}
	if errors.As(err, &already) && already.Err == nil {
		return gerr
	}
	if apperr.DependencyDown(err) {
		log.WarnContext(ctx, "graphql: dependency unavailable", "err", err)
		gerr.Message, gerr.Extensions = apperr.UnavailableMessage, map[string]any{"code": string(apperr.Unavailable)}
		return gerr
	}
	logInternal(ctx, log, err)
	gerr.Message = "internal error"
	gerr.Extensions = map[string]any{"code": string(apperr.Internal)}
	return gerr
}

// logInternal logs an internal error of the operation of ctx, at Info level when the client
// went away (apperr.ClientGone): nobody reads that answer, and it is no fault of the server's.
func logInternal(ctx context.Context, log *slog.Logger, err error) {
	if apperr.ClientGone(ctx, err) {
		log.InfoContext(ctx, "graphql: request canceled by the client", "err", err)
		return
	}
	log.ErrorContext(ctx, "graphql internal error", "err", err)
}

// depthLimit refuses operations nested deeper than max selection levels.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); depth > d.max {
		err := gqlerror.Errorf("query is nested %d levels deep; the limit is %d", depth, d.max)
		err.Extensions = map[string]any{"code": "QUERY_TOO_DEEP"}
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen int) int {
	if seen > 64 {
		return seen // fragment cycles are rejected by validation; never recurse forever
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				// Introspection reads the static schema; GraphiQL's query nests ofType 8 deep.
				d = 1
			} else if len(s.SelectionSet) > 0 {
				d = 1 + selectionDepth(s.SelectionSet, frags, seen+1)
			} else {
				d = 1
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, seen+1)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// pagedComplexity counts a list field asked for with first or last as that many copies of its
// selection, so one query cannot ask for a million nested rows, and adds the cost of the
// database work a field's resolver does (resolverCost). Every alias is a field of its own, so
// a document repeating a costly field under many aliases pays for each one.
type pagedComplexity struct{ graphql.ExecutableSchema }

// Costs of fields whose resolver runs its own query, in complexity points (a plain field is
// 1). Analytics fields aggregate over all of an application's rows: at the complexity limit
// of 20,000 one operation may ask for at most 20 of them.
const (
	analyticsCost = 1000
	queryCost     = 20
	mutationCost  = 100
)

var resolverCost = map[string]int{
	"AppAnalytics.signupsPerDay":        analyticsCost,
	"AppAnalytics.activeUsersPerDay":    analyticsCost,
	"AppAnalytics.usersPerRegion":       analyticsCost,
	"AppAnalytics.sessionsDistribution": analyticsCost,
	"AppAnalytics.licensesByState":      analyticsCost,
	"Application.users":                 queryCost,
	"Application.importSources":         queryCost,
	"Application.licenseCodes":          queryCost,
	"Application.licenseVariants":       queryCost,
	"Application.webhookEvents":         queryCost,
	"LicenseVariant.codeCounts":         queryCost,
	"LicenseCode.owner":                 queryCost / 4,
	"Application.members":               queryCost,
	"Application.invitations":           queryCost,
	"Application.viewerRole":            queryCost / 4,
	"Application.ownershipTransfer":     queryCost / 4,
	"User.teamInvitations":              queryCost,
}

// fieldCost is the cost of the field itself, without its selection.
func fieldCost(typeName, field string) int {
	if c, ok := resolverCost[typeName+"."+field]; ok {
		return c
	}
	switch typeName {
	case "Mutation":
		return mutationCost
	case "Query":
		return queryCost
	}
	return 1
}

func (p pagedComplexity) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if c, ok := p.ExecutableSchema.Complexity(ctx, typeName, field, child, args); ok {
		return c, true
	}
	n := 1
	for _, k := range []string{"first", "last"} {
		switch v := args[k].(type) {
		case int64:
			n = max(n, int(min(v, 1<<20)))
		case int:
			n = max(n, v)
		case *int:
			if v != nil {
				n = max(n, *v)
			}
		}
	}
	return fieldCost(typeName, field) + child*n, true
}
