package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/ratelimit"
)

// Limits bound what one request to /graphql may cost, before and during the work. Zero fields
// take the defaults written next to them.
type Limits struct {
	// MaxBody is the largest POST body in bytes (LOGINSIGN_GRAPHQL_MAX_BODY). A larger one is
	// answered 413 before more than MaxBody bytes are read. Default 1 MiB.
	MaxBody int64
	// MaxTokens is the largest document in lexical tokens; the parser stops at the limit.
	// Default 10,000 (GraphiQL's introspection query is about 300).
	MaxTokens int
	// PerPrincipal is the complexity points one principal (the signed-in person, else the
	// address) may spend per window; an operation costs its complexity (at least 1).
	// Default 200,000 per minute: ten operations at the complexity limit.
	PerPrincipal ratelimit.Rule
	// Limiter counts PerPrincipal; nil turns that limit off.
	Limiter *ratelimit.Limiter
	// Log receives the limiter's own failures (Redis unreachable); slog.Default when nil.
	Log *slog.Logger
}

// Default limits.
const (
	DefaultMaxBody   = 1 << 20
	DefaultMaxTokens = 10000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = DefaultMaxTokens
	}
	l.PerPrincipal = l.PerPrincipal.Or(ratelimit.Rule{Name: "graphql", N: 200000, Window: time.Minute})
	return l
}

// Endpoint is /graphql: srv with the document, where-variable and principal limits of l,
// behind the body limit of l.
func Endpoint(srv *handler.Server, l Limits) http.Handler {
	l = l.withDefaults()
	srv.SetParserTokenLimit(l.MaxTokens)
	srv.Use(fieldPairs{maxTokens: l.MaxTokens, passed: smallOnly[struct{}]{lru.New[struct{}](1000)}})
	srv.Use(whereVariables{schema: NewExecutableSchema(Config{}).Schema(), maxTokens: l.MaxTokens})
	if l.Limiter != nil {
		// Runs after the complexity limit (extensions run in the order they were added), so an
		// operation refused for its complexity costs nothing.
		log := l.Log
		if log == nil {
			log = slog.Default()
		}
		srv.Use(principalLimit{limiter: l.Limiter, rule: l.PerPrincipal, log: log})
	}
	return LimitBody(srv, l.MaxBody)
}

// LimitBody answers 413 with a GraphQL error body ({"errors":[{"message","extensions":{"code":
// "REQUEST_TOO_LARGE"}}]}) when a request body is longer than limit: at once when
// Content-Length says so, else as soon as limit+1 bytes have arrived. A body (or GET query)
// that is not UTF-8 or holds a NUL escape is answered 400 (code BAD_REQUEST): the database
// would refuse such text. Anything else is handed on whole.
func LimitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			q := r.URL.Query()
			if httpx.HasEscapedNUL([]byte(q.Get("query"))) || httpx.HasEscapedNUL([]byte(q.Get("variables"))) {
				writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "the operation contains a NUL character (\\u0000)")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > limit {
			tooLarge(w, limit)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &mb):
			tooLarge(w, limit)
			return
		case err != nil:
			writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body")
			return
		}
		if err := httpx.CheckJSONText(body); err != nil {
			writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", err.Message)
			return
		}
		// A NUL may also hide in the document as GraphQL's own string escape.
		var params struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(body, &params) == nil && httpx.HasEscapedNUL([]byte(params.Query)) {
			writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "the operation contains a NUL character (\\u0000)")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Connection", "close")
	writeGraphQLError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
		fmt.Sprintf("the request body is larger than %d bytes", limit))
}

// writeGraphQLError answers {"errors":[{"message","extensions":{"code"}}]} with status.
func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	type extensions struct {
		Code string `json:"code"`
	}
	type gqlError struct {
		Message    string     `json:"message"`
		Extensions extensions `json:"extensions"`
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // as every GraphQL answer (overHTTP.Do)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Errors []gqlError `json:"errors"`
	}{[]gqlError{{msg, extensions{code}}}})
}

// whereVariables refuses (invalid_request) a variable of a where input type, or a list of
// them, that on its own passes the filter limits, before gqlgen coerces the variables:
// gqlparser's coercion reads every field of the input type for each object given, so 300,000
// empty filters (a 1 MiB body) held a core for 8 seconds before shapeLimit could see them. It
// parses the document itself, under the parser's token limit; one it cannot parse is left to
// gqlgen, which refuses it. It runs after the persisted-query extension, which fills in the
// document.
type whereVariables struct {
	schema    *ast.Schema
	maxTokens int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = whereVariables{}

func (whereVariables) ExtensionName() string                   { return "WhereVariables" }
func (whereVariables) Validate(graphql.ExecutableSchema) error { return nil }

func (l whereVariables) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	composite := false
	for _, v := range raw.Variables {
		switch v.(type) {
		case map[string]any, []any:
			composite = true
		}
	}
	if !composite {
		return nil // a where value is an object or a list: most operations are parsed once
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: raw.Query}, l.maxTokens)
	if err != nil {
		return nil
	}
	op := doc.Operations.ForName(raw.OperationName)
	if op == nil {
		return nil
	}
	for _, v := range op.VariableDefinitions {
		if !whereInputType(l.schema, v.Type) {
			continue
		}
		if over := (&filterWalk{schema: l.schema}).value(v.Type, raw.Variables[v.Variable], 0); over != "" {
			err := gqlerror.ErrorPosf(v.Position, "$%s %s", v.Variable, over)
			err.Extensions = map[string]any{"code": string(apperr.Invalid)}
			return err
		}
	}
	return nil
}

// MaxFieldPairs bounds the pairs of fields sharing a response name that one selection set
// merges, every fragment expanded where it is spread and the selections of the merged fields
// merged in turn, and the pairs of fragment spreads side by side: gqlparser's validation
// (OverlappingFieldsCanBeMerged) compares every such pair, in time quadratic in their number
// (880 distinct fragments spread together took 0.5 s). A hand-written operation repeats a field a few
// times; GraphiQL's introspection query repeats none.
const MaxFieldPairs = 10000

// MaxFragmentNesting bounds how many fragments one spread expands through, each spreading the
// next: validation walks such a chain again from every fragment in it, and a signed-out
// document of 1,100 fragments each spreading the next held a core for 1.5 s. Hand-written
// documents nest fragments a few levels.
const MaxFragmentNesting = 32

// fieldPairs refuses (QUERY_TOO_LARGE) a document whose fields sharing a response name make
// more than MaxFieldPairs pairs, that selects more than MaxFields fields once its fragments
// are expanded, or that nests fragment spreads more than MaxFragmentNesting deep, before
// gqlgen validates it. Validation runs before every other limit and
// whatever the caller: a 110 kB document of 9,990 __typename, signed out, held a core for 10 s
// and was then refused for its complexity, which charges nobody's budget. Fragments are
// expanded along each path once (a spread inside its own expansion adds nothing; validation
// refuses the cycle). It parses the document itself under the parser's token limit; one it
// cannot parse is left to gqlgen, which refuses it. It runs after the persisted-query
// extension, which fills in the document.
//
// The verdict depends on the text alone, so the texts that passed are remembered (small ones,
// as the query cache keeps them): the dashboard's and portal's operations, sent again and again,
// are not parsed a second time on each request.
type fieldPairs struct {
	maxTokens int
	passed    graphql.Cache[struct{}]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = fieldPairs{}

func (fieldPairs) ExtensionName() string                   { return "FieldPairs" }
func (fieldPairs) Validate(graphql.ExecutableSchema) error { return nil }

func (l fieldPairs) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if _, ok := l.passed.Get(ctx, raw.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: raw.Query}, l.maxTokens)
	if err != nil {
		return nil
	}
	c := pairCounter{frags: map[string]*ast.FragmentDefinition{}, used: map[string]bool{}}
	for _, f := range doc.Fragments {
		if _, dup := c.frags[f.Name]; !dup {
			c.frags[f.Name] = f
		}
	}
	ok := true
	for _, op := range doc.Operations {
		ok = ok && c.merged([]scopedSet{{set: op.SelectionSet}})
	}
	// Validation also walks each fragment on its own; one the operations expand was counted
	// there, so only the others are walked as roots.
	for _, f := range doc.Fragments {
		if ok && !c.used[f.Name] {
			c.used[f.Name] = true
			ok = c.merged([]scopedSet{{set: f.SelectionSet, in: &fragmentChain{name: f.Name, depth: 1}}})
		}
	}
	if ok {
		l.passed.Add(ctx, raw.Query, struct{}{})
		return nil
	}
	gerr := gqlerror.Errorf("query repeats fields under one name or spreads fragments side by side too often (more than %d pairs), selects more than %d fields once its fragments are expanded or nests fragments more than %d deep", MaxFieldPairs, MaxFields, MaxFragmentNesting)
	gerr.Extensions = map[string]any{"code": "QUERY_TOO_LARGE"}
	return gerr
}

// fragmentChain is the fragments being expanded around a selection set, innermost first.
type fragmentChain struct {
	name  string
	depth int
	up    *fragmentChain
}

func (c *fragmentChain) has(name string) bool {
	for ; c != nil; c = c.up {
		if c.name == name {
			return true
		}
	}
	return false
}

// scopedSet is a selection set and the fragments expanded around it.
type scopedSet struct {
	set ast.SelectionSet
	in  *fragmentChain
}

// pairCounter counts fields visited and pairs of fields merged under one response name.
type pairCounter struct {
	frags         map[string]*ast.FragmentDefinition
	used          map[string]bool // fragments expanded
	fields, pairs int
	// spreads counts fragment expansions, bounded as fields are: a fragment of spreads alone
	// adds no field.
	spreads int
}

// merged counts the fields sets select together, grouped by response name, then the
// selections of each group merged; false once past MaxFields or MaxFieldPairs.
func (c *pairCounter) merged(sets []scopedSet) bool {
	counts := map[string]int{}
	spreads := 0 // validation compares each fragment spread here with every other one
	children := map[string][]scopedSet{}
	var order []string
	var collect func(set ast.SelectionSet, in *fragmentChain) bool
	collect = func(set ast.SelectionSet, in *fragmentChain) bool {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				c.fields++
				name := sel.Alias
				if name == "" {
					name = sel.Name
				}
				if _, seen := counts[name]; !seen {
					order = append(order, name)
				}
				c.pairs += counts[name]
				counts[name]++
				if c.fields > MaxFields || c.pairs > MaxFieldPairs {
					return false
				}
				if len(sel.SelectionSet) > 0 {
					children[name] = append(children[name], scopedSet{set: sel.SelectionSet, in: in})
				}
			case *ast.InlineFragment:
				if !collect(sel.SelectionSet, in) {
					return false
				}
			case *ast.FragmentSpread:
				f := c.frags[sel.Name]
				if f == nil || in.has(sel.Name) {
					continue
				}
				c.spreads++
				c.pairs += spreads
				spreads++
				c.used[sel.Name] = true
				depth := 1
				if in != nil {
					depth = in.depth + 1
				}
				if c.spreads > MaxFields || c.pairs > MaxFieldPairs || depth > MaxFragmentNesting {
					return false
				}
				if !collect(f.SelectionSet, &fragmentChain{name: sel.Name, depth: depth, up: in}) {
					return false
				}
			}
		}
		return true
	}
	for _, s := range sets {
		if !collect(s.set, s.in) {
			return false
		}
	}
	for _, name := range order {
		if sub := children[name]; len(sub) > 0 && !c.merged(sub) {
			return false
		}
	}
	return true
}

// principalLimit charges each operation's complexity, and IntrospectionCost for each time it
// asks for the schema, to its principal.
type principalLimit struct {
	limiter *ratelimit.Limiter
	rule    ratelimit.Rule
	log     *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = principalLimit{}

func (principalLimit) ExtensionName() string                   { return "PrincipalLimit" }
func (principalLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (p principalLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	cost := 1
	if s, ok := oc.Stats.GetExtension("ComplexityLimit").(*extension.ComplexityStats); ok {
		cost = max(1, s.Complexity)
	}
	if s, ok := oc.Stats.GetExtension("ShapeLimit").(shape); ok {
		cost += s.introspection * IntrospectionCost // the complexity walk skips __schema
	}
	err := p.limiter.TakeN(ctx, p.rule, principal(ctx), cost)
	if err == nil {
		return nil
	}
	var e *apperr.Error
	if errors.As(err, &e) && e.Code == apperr.RateLimited {
		gerr := gqlerror.Errorf("too many GraphQL operations; retry in %d seconds", e.RetryAfter)
		gerr.Extensions = map[string]any{"code": string(apperr.RateLimited), "retryAfter": e.RetryAfter}
		return gerr
	}
	if apperr.DependencyDown(err) {
		// The budget cannot be counted (Redis down or out of memory): the operation is refused
		// as an outage, 503 with Retry-After (overHTTP), never run unthrottled. It fails closed
		// for queries too: the budget is what bounds one principal's database work, and a
		// GraphQL request needs Redis anyway (its session); its own limits (mail, codes) would
		// refuse the mutations that send mail.
		p.log.WarnContext(ctx, "graphql rate limit: dependency unavailable", "err", err)
		return unavailableError()
	}
	p.log.ErrorContext(ctx, "graphql rate limit", "err", err)
	gerr := gqlerror.Errorf("internal error")
	gerr.Extensions = map[string]any{"code": string(apperr.Internal)}
	return gerr
}

// unavailableError is a request error for an outage of a dependency the operation needs
// before it runs: extensions.code temporarily_unavailable with retryAfter, which overHTTP
// answers 503 with Retry-After.
func unavailableError() *gqlerror.Error {
	gerr := gqlerror.Errorf("%s", apperr.UnavailableMessage)
	gerr.Extensions = map[string]any{"code": string(apperr.Unavailable), "retryAfter": apperr.RetryAfterUnavailable}
	return gerr
}

// principal is who sends an operation: the signed-in person, else the client address.
func principal(ctx context.Context) string {
	if s, ok := auth.SessionFrom(ctx); ok {
		return "usr:" + s.UserID
	}
	return "ip:" + auth.ClientIP(ctx)
}

// MaxCachedQuery is the longest query text the parsed-query and persisted-query caches keep:
// without it, 1,000 distinct 1 MiB documents would pin a gigabyte. Longer queries are parsed
// each time (they still meet every limit).
const MaxCachedQuery = 16 << 10

// smallOnly is a cache that keeps only entries whose key (the query text, or its hash for
// persisted queries, whose value is the text) is at most MaxCachedQuery bytes.
type smallOnly[T any] struct{ graphql.Cache[T] }

func (c smallOnly[T]) Add(ctx context.Context, key string, value T) {
	if len(key) > MaxCachedQuery {
		return
	}
	if s, ok := any(value).(string); ok && len(s) > MaxCachedQuery {
		return
	}
	c.Cache.Add(ctx, key, value)
}

// perPrincipal is the persisted-query cache of each principal: a hash finds only the text its
// own sender sent. Shared by everyone, it answered anyone holding the hash of a guessed query
// (a search of an application's people for an address, say) whether somebody had sent it: the
// query ran instead of PERSISTED_QUERY_NOT_FOUND.
type perPrincipal struct{ graphql.Cache[string] }

func (c perPrincipal) Get(ctx context.Context, hash string) (string, bool) {
	return c.Cache.Get(ctx, principal(ctx)+" "+hash)
}

func (c perPrincipal) Add(ctx context.Context, hash string, query string) {
	c.Cache.Add(ctx, principal(ctx)+" "+hash, query)
}
