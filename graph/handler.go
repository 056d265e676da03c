package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
	"loginsign/internal/licenses"
	"loginsign/internal/profile"
	"loginsign/internal/store"
)

// Limits bound what one query may ask for. MaxFields counts selections with every fragment
// expanded where it is spread; outside __schema each costs at least a complexity point, so
// no operation within MaxComplexity needs more.
const (
	MaxComplexity = 20000
	MaxDepth      = 12
	MaxFields     = MaxComplexity
)

// Introspection (__schema, __type) is open to everyone, signed out too, and gqlgen's
// complexity walk skips __schema: an operation asks for the schema at most MaxIntrospection
// times, each alias and fragment spread counted, and each time costs its principal
// IntrospectionCost points (shapeLimit, principalLimit). Before, a hundred aliased copies of
// __schema in a 12 kB document cost 1 point and wrote 9 MB in 5 s of a core.
const (
	MaxIntrospection  = 3
	IntrospectionCost = analyticsCost
)

// NewHandler returns the /graphql endpoint.
func NewHandler(r *Resolver, log *slog.Logger) *handler.Server {
	es := pagedComplexity{NewExecutableSchema(Config{Resolvers: r})}
	srv := handler.New(es)
	srv.AddTransport(optionsOnly{}) // HEAD goes on to unsupported: 405 with Allow
	srv.AddTransport(overHTTP{})    // GET and POST with the GraphQL-over-HTTP status codes
	srv.AddTransport(unsupported{})
	srv.SetQueryCache(smallOnly[*ast.QueryDocument]{lru.New[*ast.QueryDocument](1000)})
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: smallOnly[string]{perPrincipal{lru.New[string](100)}}})
	srv.Use(shapeLimit{maxDepth: MaxDepth, maxFields: MaxFields, schema: es.Schema()}) // before the complexity walk
	srv.Use(costLimit{es: es, limit: MaxComplexity})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		// A query's team checks and the persons behind its lists' connections are kept for
		// the operation; a mutation's for each of its root fields (AroundRootFields below), as
		// its answers follow its own changes.
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Query {
			ctx = withLicenseCounts(withConnPeople(withTeamReads(ctx)))
		}
		return next(ctx)
	})
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		// A mutation's root fields run one after the other, each answering after its own
		// change: each keeps, for itself, the persons its answer reads (AppConnection.globalId
		// and name) and the team checks of the applications it reads (teamField), so that
		// aliases of them read a person, or check a role, once, not once each.
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Mutation {
			ctx = withLicenseCounts(withConnPeople(withTeamReads(ctx)))
		}
		return next(ctx)
	})
	srv.AroundFields(r.loadPeople)
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return presentError(ctx, err, log)
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql panic", "panic", v)
		return &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	})
	return srv
}

// presentError shows domain errors with extensions.code, an argument value gqlgen cannot read
// as invalid_request and a refusal of the request without a code as BAD_REQUEST, and hides
// everything else behind "internal error" (logged).
func presentError(ctx context.Context, err error, log *slog.Logger) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	var e *apperr.Error
	if errors.As(err, &e) {
		gerr.Message = e.MessageIn(i18n.FromContext(ctx))
		if gerr.Message == "" {
			gerr.Message = e.Name()
		}
		gerr.Extensions = map[string]any{"code": e.Name()}
		if e.Code == apperr.RateLimited && e.RetryAfter > 0 {
			// What REST says in Retry-After, as the per-person GraphQL budget says it.
			gerr.Extensions["retryAfter"] = e.RetryAfter
		}
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
		if graphql.GetFieldContext(ctx) == nil {
			// A refusal of the request without a code of its own (APQ's checks of its extension).
			gerr.Extensions = map[string]any{"code": "BAD_REQUEST"}
		}
		return gerr
	}
	if arg, field, ok := argumentError(ctx, already); ok {
		gerr.Message = fmt.Sprintf("%s: argument %s: %s", field.Field.Alias, arg, already.Err)
		gerr.Path, gerr.Locations = field.Path(), []gqlerror.Location{{Line: field.Field.Position.Line, Column: field.Field.Position.Column}}
		gerr.Extensions = map[string]any{"code": string(apperr.Invalid)}
		return gerr
	}
	// ent's refusal of a where input that holds a filter setting nothing ({not: {or: []}}):
	// the client's mistake, which the filter limits (oversizedFilter) catch only when it is a
	// literal {}.
	if store.EmptyFilter(err) {
		gerr.Message = "a where filter sets nothing to filter on (such as {not: {or: []}})"
		gerr.Extensions = map[string]any{"code": string(apperr.Invalid)}
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

// argumentError reports whether gerr is gqlgen's failure to read an argument of the field of
// ctx into its Go type (a Time that is not RFC 3339): the value is the client's mistake, and
// the resolver never ran. Such an error's path goes on past the field's through the argument's
// name; arg is that rest (where.createdAtGT).
func argumentError(ctx context.Context, gerr *gqlerror.Error) (arg ast.Path, field *graphql.FieldContext, ok bool) {
	field = graphql.GetFieldContext(ctx)
	if gerr == nil || field == nil || field.Field.Field == nil || field.Field.Definition == nil || field.Field.Position == nil {
		return nil, nil, false
	}
	at := field.Path()
	if len(gerr.Path) <= len(at) || !slices.Equal(gerr.Path[:len(at)], at) {
		return nil, nil, false
	}
	name, isName := gerr.Path[len(at)].(ast.PathName)
	if !isName || field.Field.Definition.Arguments.ForName(string(name)) == nil {
		return nil, nil, false
	}
	return gerr.Path[len(at):], field, true
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

// shapeLimit refuses an operation nested deeper than maxDepth selection levels
// (QUERY_TOO_DEEP), whose selections number more than maxFields once every fragment spread is
// expanded where it is spread (QUERY_TOO_LARGE), that reads a connection's edges without
// first or last (FIRST_OR_LAST_REQUIRED: the rows of a connection asked for without either
// are read whole, ent's edges loaded with their parent included, and the complexity limit
// would price them as one), or whose where or orderBy arguments pass the filter limits
// (invalid_request). It runs before the complexity limit: gqlgen's complexity walker
// expands a fragment again at every spread, so a few lines of fragments each spreading the
// next twice (2^40 fields expanded) would hold a core for hours before any limit answered.
// This walk visits each fragment once.
type shapeLimit struct {
	maxDepth, maxFields int
	schema              *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

func (shapeLimit) ExtensionName() string                   { return "ShapeLimit" }
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l shapeLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := shapeWalker{schema: l.schema, frags: oc.Doc.Fragments, vars: oc.Variables, memo: map[string]shape{}, ceiling: l.maxFields + 1,
		imported: importedRows(ctx)}
	s := w.selections(oc.Operation.SelectionSet)
	if w.err != nil {
		return w.err
	}
	if s.fields > l.maxFields {
		err := gqlerror.Errorf("query selects more than %d fields once its fragments are expanded", l.maxFields)
		err.Extensions = map[string]any{"code": "QUERY_TOO_LARGE"}
		return err
	}
	if s.introspection > MaxIntrospection {
		err := gqlerror.Errorf("query asks for the schema (__schema, __type) more than %d times", MaxIntrospection)
		err.Extensions = map[string]any{"code": "QUERY_TOO_LARGE"}
		return err
	}
	oc.Stats.SetExtension("ShapeLimit", s)
	if s.depth > l.maxDepth {
		err := gqlerror.Errorf("query is nested %d levels deep; the limit is %d", s.depth, l.maxDepth)
		err.Extensions = map[string]any{"code": "QUERY_TOO_DEEP"}
		return err
	}
	return nil
}

// shape is how deep a selection set nests, how many fields it selects, how many of them
// are __schema or __type, expanded, and the whole logs it reads (wholeLogReads).
type shape struct {
	depth, fields, introspection int
	reads                        reads
}

// shapeWalker measures selection sets, each fragment once (memo); field counts stop at
// ceiling, so no sum overflows. err is the first field whose arguments are refused.
type shapeWalker struct {
	schema  *ast.Schema
	frags   ast.FragmentDefinitionList
	vars    map[string]any
	memo    map[string]shape
	ceiling int
	// imported is the most rows one import of the operation is sent (importedRows): the
	// selection under each result's source runs once per row.
	imported int
	err      *gqlerror.Error
}

func (w *shapeWalker) selections(set ast.SelectionSet) shape {
	var out shape
	for _, sel := range set {
		var s shape
		switch sel := sel.(type) {
		case *ast.Field:
			if w.err == nil {
				w.err = w.unpaged(sel)
			}
			if w.err == nil {
				w.err = w.firstAndLast(sel)
			}
			if w.err == nil {
				w.err = w.badCursor(sel)
			}
			if w.err == nil {
				w.err = w.oversizedFilter(sel)
			}
			s = w.logReads(sel, w.selections(sel.SelectionSet))
			s.fields++
			if sel.Name == "__schema" || sel.Name == "__type" {
				// Introspection reads the static schema; GraphiQL's query nests ofType 8
				// deep, and gqlparser's validation bounds its depth.
				s.depth = 1
				s.introspection++
			} else {
				s.depth++
			}
		case *ast.InlineFragment:
			s = w.selections(sel.SelectionSet)
		case *ast.FragmentSpread:
			s = w.fragment(sel.Name)
		}
		out.depth = max(out.depth, s.depth)
		out.fields = min(out.fields+s.fields, w.ceiling)
		out.introspection = min(out.introspection+s.introspection, w.ceiling)
		out.reads = out.reads.plus(s.reads, w.ceiling)
	}
	return out
}

// unpaged answers FIRST_OR_LAST_REQUIRED for a paged field (one that takes first) whose
// edges f selects without first or last. Without edges nothing is read but a count.
func (w *shapeWalker) unpaged(f *ast.Field) *gqlerror.Error {
	if f.Definition == nil || f.Definition.Arguments.ForName("first") == nil {
		return nil
	}
	if args := f.ArgumentMap(w.vars); args["first"] != nil || args["last"] != nil {
		return nil
	}
	if !w.selects(f.SelectionSet, "edges", map[string]bool{}) {
		return nil
	}
	err := gqlerror.ErrorPosf(f.Position, "%s: give first or last to read its edges; a connection is read a page at a time", f.Alias)
	err.Extensions = map[string]any{"code": "FIRST_OR_LAST_REQUIRED"}
	return err
}

// firstAndLast answers INVALID_PAGINATION (the code ent gives a negative first or last) for
// a connection f asks for with both first and last: ent refuses the pair with an error
// that has no code, and for a connection loaded with its parent only once the parent's rows
// are read.
func (w *shapeWalker) firstAndLast(f *ast.Field) *gqlerror.Error {
	if f.Definition == nil || f.Definition.Arguments.ForName("first") == nil || f.Definition.Arguments.ForName("last") == nil {
		return nil
	}
	if args := f.ArgumentMap(w.vars); args["first"] == nil || args["last"] == nil {
		return nil
	}
	err := gqlerror.ErrorPosf(f.Position, "%s: give first or last, not both", f.Alias)
	err.Extensions = map[string]any{"code": "INVALID_PAGINATION"}
	return err
}

// badCursor answers invalid_request for a cursor argument of f that no list gave out: the
// empty text (which some lists took for no cursor and a connection loaded with its parent
// failed on), one store.ParseCursor refuses, or, for a connection that ent pages by its
// orderBy argument (by id when it has none), one whose values are not of that ordering
// (store.CheckCursors): a forged value would otherwise reach the database, which fails on
// it. The connections that resolve through the domain's lists (cursorsCheckedByTheDomain)
// check their own orderings.
// The check runs before anything is read, nested connections included, which ent loads with
// their parent.
func (w *shapeWalker) badCursor(f *ast.Field) *gqlerror.Error {
	if f.Definition == nil || f.ObjectDefinition == nil || !slices.ContainsFunc(f.Definition.Arguments,
		func(a *ast.ArgumentDefinition) bool { return a.Type.Name() == "Cursor" }) {
		return nil
	}
	args := f.ArgumentMap(w.vars)
	for _, def := range f.Definition.Arguments {
		text, isText := args[def.Name].(string)
		if def.Type.Name() != "Cursor" || !isText {
			continue
		}
		c, err := store.ParseCursor(text, "")
		if text == "" {
			err = errors.New("an empty cursor")
		}
		if err == nil && !cursorsCheckedByTheDomain[f.ObjectDefinition.Name+"."+f.Name] {
			multi, kinds := cursorOrdering(f.Definition.Arguments.ForName("orderBy"), args["orderBy"])
			err = store.CheckCursors(multi, kinds, c)
		}
		if err != nil {
			err := gqlerror.ErrorPosf(f.Position, "%s: %s is not a cursor this list gave out", f.Alias, def.Name)
			err.Extensions = map[string]any{"code": string(apperr.Invalid)}
			return err
		}
	}
	return nil
}

// Limits on the where and orderBy arguments, which ent turns into one SQL statement each. The
// document limits do not see values sent as variables: before these, a where nested 3,000
// levels deep exhausted the databases' parsers, 45,000 or-terms ran for seconds, 70,000 ids
// passed the drivers' 65,535 parameters and 2,000 orders SQLite's ORDER BY. A filter written
// by hand needs a few of each.
const (
	// MaxFilterDepth counts where inputs nested in one another (through not, and, or and
	// has…With), the argument's own included.
	MaxFilterDepth = 8
	// MaxFilterFields counts the fields set in one where argument, at every level: not, and,
	// or and has…With included.
	MaxFilterFields = 100
	// MaxFilterList is the most items of a list in a where argument (idIn, or), as
	// nodes(ids:) takes.
	MaxFilterList = 100
	// MaxOrderBy is the most orders in one orderBy argument: no type has more fields to
	// order by.
	MaxOrderBy = 5
	// MaxFilterText is the longest text in a where argument, in bytes: 2,048 characters of
	// up to 4 bytes, the longest text column a filter names (SQLite refuses a LIKE pattern
	// over 50,000 bytes, with an error that is no fault of the server's).
	MaxFilterText = 8192
)

// oversizedFilter answers invalid_request for a where argument of f (of an input type named
// …WhereInput; no other input type holds one) or an orderBy argument past the filter limits.
func (w *shapeWalker) oversizedFilter(f *ast.Field) *gqlerror.Error {
	if f.Definition == nil {
		return nil
	}
	for _, arg := range f.Arguments {
		def := f.Definition.Arguments.ForName(arg.Name)
		if def == nil || (arg.Name != "orderBy" && !whereInputType(w.schema, def.Type)) {
			continue
		}
		v, err := arg.Value.Value(w.vars)
		if err != nil || v == nil {
			continue
		}
		var over string
		if arg.Name == "orderBy" {
			if n := listLen(v); n > MaxOrderBy {
				over = fmt.Sprintf("lists %d orders; the limit is %d", n, MaxOrderBy)
			}
		} else {
			over = (&filterWalk{schema: w.schema}).value(def.Type, v, 0)
		}
		if over != "" {
			err := gqlerror.ErrorPosf(f.Position, "%s: %s %s", f.Alias, arg.Name, over)
			err.Extensions = map[string]any{"code": string(apperr.Invalid)}
			return err
		}
	}
	return nil
}

// filterWalk measures one where value against the filter limits, stopping at the first one
// passed. Every where input it enters but the outermost sets a field it counts (an empty one
// is refused: ent fails on it), so it enters at most MaxFilterFields+1 of them.
type filterWalk struct {
	schema *ast.Schema
	fields int
}

// value measures v, of type t, inside depth where inputs; it says what is over a limit, or "".
func (fw *filterWalk) value(t *ast.Type, v any, depth int) string {
	if t.Elem == nil {
		if over := longText(v); over != "" {
			return over
		}
		return fw.filter(t, v, depth)
	}
	if n := listLen(v); n > MaxFilterList {
		return fmt.Sprintf("holds a list of %d values; the limit is %d", n, MaxFilterList)
	}
	if items, ok := v.([]any); ok {
		for _, item := range items {
			if over := longText(item); over != "" {
				return over
			}
		}
	} else if over := longText(v); over != "" {
		return over
	}
	items := reflect.ValueOf(v)
	if !whereInputType(fw.schema, t) || !items.IsValid() {
		return ""
	}
	if items.Kind() != reflect.Slice {
		return fw.filter(t.Elem, v, max(depth, 1)) // a single value is a list of one
	}
	for i := range items.Len() {
		// An item of a list of filters is inside another, whatever the list is inside.
		if over := fw.filter(t.Elem, items.Index(i).Interface(), max(depth, 1)); over != "" {
			return over
		}
	}
	return ""
}

// longText says that v is a text longer than MaxFilterText, or "".
func longText(v any) string {
	if s, ok := v.(string); ok && len(s) > MaxFilterText {
		return fmt.Sprintf("holds a text of %d bytes; the limit is %d", len(s), MaxFilterText)
	}
	return ""
}

// filter measures v when it is a where input (of type t) inside depth others.
func (fw *filterWalk) filter(t *ast.Type, v any, depth int) string {
	obj, ok := v.(map[string]any)
	if !ok || !whereInputType(fw.schema, t) {
		return ""
	}
	if depth++; depth > MaxFilterDepth {
		return fmt.Sprintf("nests filters more than %d levels deep", MaxFilterDepth)
	}
	if len(obj) == 0 && depth > 1 {
		return "holds an empty filter"
	}
	if fw.fields += len(obj); fw.fields > MaxFilterFields {
		return fmt.Sprintf("sets more than %d fields", MaxFilterFields)
	}
	def := fw.schema.Types[t.Name()]
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		if fd := def.Fields.ForName(name); fd != nil {
			if over := fw.value(fd.Type, obj[name], depth); over != "" {
				return over
			}
		}
	}
	return ""
}

// whereInputType reports whether t is one of ent's where inputs or a list of them.
func whereInputType(schema *ast.Schema, t *ast.Type) bool {
	def := schema.Types[t.Name()]
	return def != nil && def.Kind == ast.InputObject && strings.HasSuffix(def.Name, "WhereInput")
}

// listLen is the length of v as a list argument: a single value is a list of one.
func listLen(v any) int {
	if l := reflect.ValueOf(v); l.Kind() == reflect.Slice {
		return l.Len()
	}
	return 1
}

// cursorsCheckedByTheDomain are the paged fields whose resolvers call a domain list that
// checks its cursors against its own ordering (store.CheckCursors), which may differ from
// what their arguments say (a default order, or none taken).
var cursorsCheckedByTheDomain = map[string]bool{
	"Query.applications": true, "Application.users": true, "Application.importSources": true,
	"Application.webhookEvents": true, "Application.licenseCodes": true,
}

// cursorOrdering is the ordering of an ent connection whose orderBy argument is def (nil:
// none) given as arg: multi when it takes a list of orders, and the kinds of their fields'
// values, by the order fields' names (…_AT a timestamp, LAST_SESSION_AT one that may be
// null, …_COUNT an integer, any other a text). Without orderBy, ent orders by id.
func cursorOrdering(def *ast.ArgumentDefinition, arg any) (multi bool, kinds []store.CursorValue) {
	if def == nil {
		return false, []store.CursorValue{store.IDValue}
	}
	multi = def.Type.Elem != nil
	orders, isList := arg.([]any)
	if !isList && arg != nil {
		orders = []any{arg}
	}
	if len(orders) == 0 {
		// ent's default order, by id: a list of one for a list of orders.
		return multi, []store.CursorValue{store.IDValue}
	}
	for _, o := range orders {
		field, _ := o.(map[string]any)["field"].(string)
		switch {
		case field == "LAST_SESSION_AT":
			kinds = append(kinds, store.NullableTimeValue)
		case strings.HasSuffix(field, "_AT"):
			kinds = append(kinds, store.TimeValue)
		case strings.HasSuffix(field, "_COUNT"):
			kinds = append(kinds, store.IntValue)
		default:
			kinds = append(kinds, store.StringValue)
		}
	}
	return multi, kinds
}

// selects reports whether set selects a field called name at its own level, through inline
// fragments and fragment spreads (each fragment once).
func (w *shapeWalker) selects(set ast.SelectionSet, name string, seen map[string]bool) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == name {
				return true
			}
		case *ast.InlineFragment:
			if w.selects(sel.SelectionSet, name, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if f := w.frags.ForName(sel.Name); f != nil && !seen[sel.Name] {
				seen[sel.Name] = true
				if w.selects(f.SelectionSet, name, seen) {
					return true
				}
			}
		}
	}
	return false
}

func (w *shapeWalker) fragment(name string) shape {
	if s, ok := w.memo[name]; ok {
		return s
	}
	w.memo[name] = shape{} // a spread of itself (validation refuses cycles) adds nothing
	var s shape
	if f := w.frags.ForName(name); f != nil {
		s = w.selections(f.SelectionSet)
	}
	w.memo[name] = s
	return s
}

// pagedComplexity counts a list field asked for with first or last as that many copies of its
// selection, so one query cannot ask for a million nested rows, nodes(ids:) as one copy per
// id, and an unpaged list of bounded length (boundedLists) as its bound; and it adds the cost
// of the database work a field's resolver does (resolverCost). Every alias is a field of its
// own, so a document repeating a costly field under many aliases pays for each one. The
// reads of a whole log (wholeLogReads) are priced apart, outside their connection's page
// (costLimit).
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
	"Application.importSources":         queryCost,
	"Application.licenseVariants":       queryCost,
	"Application.webhookEvents":         queryCost,
	"LicenseVariant.codeCounts":         queryCost,
	"LicenseCode.owner":                 queryCost / 4,
	"Application.members":               queryCost,
	"Application.invitations":           queryCost,
	"Application.viewerRole":            queryCost / 4,
	"Application.ownershipTransfer":     queryCost / 4,
	"User.teamInvitations":              queryCost,
	"User.activity":                     queryCost,
	"Application.activity":              queryCost,
	// The person's own lists and settings, and the application's fields that check the
	// team again: each alias is a query of its own (1,500 aliased pendingLinks, priced 1
	// each, ran 1,500 queries in up to 2 s).
	"User.sessions":                    queryCost,
	"User.pendingLinks":                queryCost,
	"User.passkeys":                    queryCost,
	"User.twoStep":                     queryCost,
	"User.profile":                     queryCost,
	"User.language":                    queryCost,
	"Application.webhookUrl":           queryCost,
	"Application.backchannelLogoutUri": queryCost,
	"Application.quickstart":           queryCost,
	// The person's lists that ent pages (its edges of User): the viewer is one row, so each
	// alias is a query of its own (a page and, with totalCount, a count). Priced as their
	// selection alone, 99 aliased viewers spreading a fragment of 100 aliased
	// connections(first: 1) { totalCount } ran 9,900 statements for under 20,000 points.
	"User.connections":  queryCost,
	"User.emails":       queryCost,
	"User.applications": queryCost,
	// The lists ent pages on the nodes node(id:) and nodes(ids:) reach: each alias is a query
	// of its own for each node (a page and, with totalCount, a count). Priced as their
	// selection alone, 9 aliased node(id:) of an import run spreading a fragment of 100
	// aliased rows(first: 1) { totalCount } ran 918 statements for under 2,000 points, so
	// one operation within the limit ran some 9,000.
	"ImportSource.rows":       queryCost,
	"WebhookEvent.deliveries": queryCost,
	"AppConnection.licenses":  queryCost,
	// Checks the team role (Portal.Authorize, ReadAnalytics) for each alias; priced as its
	// selection alone, 1,000 aliased analytics { __typename } ran 1,000 statements for 2,020
	// points.
	"Application.analytics": queryCost,
	// The application's people and license codes: with a filter or a totalCount each alias
	// reads up to every row of the application (a count, or the index walked until a page
	// matches), as an analytics aggregate does. Priced as a query, some 950 aliases of
	// users(first: 1, filter: {search: "zz"}) { totalCount } fitted in one operation, and as
	// many counts of the million codes a free account may generate for its own application.
	"Application.users":        analyticsCost,
	"Application.licenseCodes": analyticsCost,
}

// mutationEdges are ent's edges to one node that a mutation's answer reads as a query of its
// own for each alias: a query's lists and nodes load them with their rows (ent's field
// collection), but nothing collects a mutation's answer, and ent reads an edge not loaded
// again at every alias. Priced as one field, setAppEmailMuted (a session is all it needs)
// answering connection { a1: application { id } … } ran a statement per point, some 19,000
// in one operation. In a mutation each is priced as a query. ImportRow.source is not among
// them: an import's rows carry their run (priced per row, importedRows).
var mutationEdges = map[string]bool{
	"AppConnection.application":    true,
	"AppConnection.consent":        true,
	"Consent.connection":           true,
	"ImportSource.application":     true,
	"LicenseCode.application":      true,
	"LicenseCode.variant":          true,
	"LicenseCode.linkedConnection": true,
	"LicenseVariant.application":   true,
	"UserEmail.user":               true,
	"WebhookAttempt.event":         true,
	"WebhookEvent.application":     true,
}

// inMutation reports whether ctx is that of a mutation.
func inMutation(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return false
	}
	op := graphql.GetOperationContext(ctx).Operation
	return op != nil && op.Operation == ast.Mutation
}

// boundedLists are list fields without page arguments whose length the domain bounds.
var boundedLists = map[string]int{
	"Application.licenseVariants": licenses.MaxVariants,
	// A person's licenses in one application: each code reaches its application, and through
	// it the team's fields (analytics, users), once per code. Priced as one code, three aliases
	// of myLicenses { application { analytics { … } } } ran 1,500 analytics GROUP BYs for
	// 15,000 points, where the limit means at most 20.
	"Query.myLicenses": licenses.MaxPerConnection,
	// Every region (about 250), the same for everyone: priced as one, a hundred aliases of it
	// wrote 25,000 objects for 240 points, and an operation within the limit some 2 million
	// (40 MB of JSON).
	"Profile.regionChoices": len(profile.Regions()),
}

// defaultPages are paged fields that answer a page of this many when asked without first:
// priced as one copy, a thousand activity pages of fifty events cost as much as a thousand
// events.
var defaultPages = map[string]int{
	"User.activity":        activity.DefaultPage,
	"Application.activity": activity.DefaultPage,
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
	n := pageRows(typeName, field, args)
	lookups := 0
	if typeName == "Query" && field == "nodes" {
		// Each id is a lookup of its own (its row, then whether the viewer may see it), as
		// node(id:) is: priced as that root field once per id. Priced as its selection alone,
		// nodes(ids:) of 100 ids cost 120 where 100 aliased node(id:) cost 2,100, so one
		// operation loaded 16,600 ids (one $ids under 166 aliases).
		if v := reflect.ValueOf(args["ids"]); v.Kind() == reflect.Slice {
			lookups = v.Len() * queryCost
		}
	}
	if typeName == "ImportRow" && field == "source" {
		// An import's results list every row it was sent, each with the run's source: the
		// selection under source runs once per row (rows, application: a query each).
		// Priced once, results { source { rows(first: 1) { totalCount } } } of 10,000 rows
		// ran 10,000 counts for some 130 points.
		n = max(n, importedRows(ctx))
	}
	cost := fieldCost(typeName, field)
	if mutationEdges[typeName+"."+field] && inMutation(ctx) {
		cost = queryCost
	}
	return cost + child*n + lookups, true
}

// pageRows is how many rows typeName.field answers at most, as its arguments ask: its first
// or last, nodes(ids:)'s ids, a bounded list's bound (boundedLists) or, asked without first
// or last, its default page (defaultPages); 1 for any other field.
func pageRows(typeName, field string, args map[string]any) int {
	n := max(1, boundedLists[typeName+"."+field])
	if typeName == "Query" && field == "nodes" {
		if v := reflect.ValueOf(args["ids"]); v.Kind() == reflect.Slice {
			n = max(n, v.Len())
		}
	}
	paged := false
	for _, k := range []string{"first", "last"} {
		switch v := args[k].(type) {
		case int64:
			n, paged = max(n, int(min(v, 1<<20))), true
		case int:
			n, paged = max(n, min(v, 1<<20)), true
		case *int:
			if v != nil {
				n, paged = max(n, min(*v, 1<<20)), true
			}
		}
	}
	if !paged {
		n = max(n, defaultPages[typeName+"."+field])
	}
	return n
}

const importedRowsStat = "ImportedRows"

// importedRows is the most rows one import of the mutation of ctx is sent (input.users of
// importAppUsers and importUsers), each a row of its results; 0 outside a mutation.
func importedRows(ctx context.Context) int {
	if !graphql.HasOperationContext(ctx) {
		return 0
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return 0
	}
	// Asked once per source field priced: the answer is kept for the operation.
	if n, ok := oc.Stats.GetExtension(importedRowsStat).(int); ok {
		return n
	}
	most := 0
	defer func() { oc.Stats.SetExtension(importedRowsStat, most) }()
	var walk func(set ast.SelectionSet, seen map[string]bool)
	walk = func(set ast.SelectionSet, seen map[string]bool) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Name != "importAppUsers" && sel.Name != "importUsers" {
					continue
				}
				input, _ := sel.ArgumentMap(oc.Variables)["input"].(map[string]any)
				most = max(most, listLen(input["users"]))
			case *ast.InlineFragment:
				walk(sel.SelectionSet, seen)
			case *ast.FragmentSpread:
				if f := oc.Doc.Fragments.ForName(sel.Name); f != nil && !seen[sel.Name] {
					seen[sel.Name] = true
					walk(f.SelectionSet, seen)
				}
			}
		}
	}
	walk(oc.Operation.SelectionSet, map[string]bool{})
	return most
}
