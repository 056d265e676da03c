package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// nestedNot is a where value of depth where inputs, each the not of the next.
func nestedNot(depth int) map[string]any {
	w := map[string]any{"nameContains": "a"}
	for range depth - 1 {
		w = map[string]any{"not": w}
	}
	return w
}

// repeated is a list of n copies of v.
func repeated(n int, v any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

var nameFilter = map[string]any{"nameContains": "a"}

// endpoint is f served as the server serves /graphql, with the default limits.
func endpoint(f *fixture) *fixture {
	g := *f
	g.handler = graph.Endpoint(f.handler.(*handler.Server), graph.Limits{})
	return &g
}

// refusal is the message of the only error of err, a refusal coded invalid_request; "" when
// err is some other answer.
func refusal(err error) string {
	var errs []struct {
		Message    string
		Extensions map[string]any
	}
	if err == nil || json.Unmarshal([]byte(err.Error()), &errs) != nil || len(errs) != 1 || errs[0].Extensions["code"] != "invalid_request" {
		return ""
	}
	return errs[0].Message
}

// Where and orderBy values past the filter limits are refused (invalid_request) before
// anything runs, whether they come as variables, which the document limits never see, in the
// document, or both; values at the limits run on every backend. Before, the ones found by
// fuzzing answered "internal error" after the database had worked on them (or ran for
// seconds), and the smaller ones ran.
func TestFilterArgumentsAreBounded(t *testing.T) {
	t.Parallel()
	// The limits look at where arguments: no other input type may hold a where input.
	for _, def := range graph.NewExecutableSchema(graph.Config{}).Schema().Types {
		if def.Kind != ast.InputObject || strings.HasSuffix(def.Name, "WhereInput") {
			continue
		}
		for _, fd := range def.Fields {
			if strings.HasSuffix(fd.Type.Name(), "WhereInput") {
				t.Fatalf("%s.%s holds a %s, which the filter limits do not see", def.Name, fd.Name, fd.Type.Name())
			}
		}
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := endpoint(newFixture(t, db))
		ctx := context.Background()
		alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
		app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{Name: "Alpha"})
		if err != nil {
			t.Fatal(err)
		}
		const apps = `query($w: ApplicationWhereInput) { applications(first: 5, where: $w) { totalCount } }`
		users := fmt.Sprintf(`query($w: AppConnectionWhereInput) { application(id: %q) { users(first: 5, where: $w) { totalCount } } }`, app.Application.ID)
		order := fmt.Sprintf(`query($o: [AppConnectionOrder!]) { application(id: %q) { users(first: 5, orderBy: $o) { totalCount } } }`, app.Application.ID)
		// A connection's filter reaches another connection through its licenses.
		var connections func(depth int) map[string]any
		connections = func(depth int) map[string]any {
			switch depth {
			case 1:
				return map[string]any{"loginCountGT": 0}
			case 2:
				return map[string]any{"hasLicensesWith": []any{map[string]any{"hasLinkedConnection": true}}}
			}
			return map[string]any{"hasLicensesWith": []any{map[string]any{"hasLinkedConnectionWith": []any{connections(depth - 2)}}}}
		}
		ids := func(n int) []string { return slices.Repeat([]string{"app_x"}, n) }
		orders := func(n int) []any {
			fields := []string{"CREATED_AT", "UPDATED_AT", "LOGIN_COUNT", "LAST_SESSION_AT", "JOINED_AT"}
			out := make([]any, n)
			for i := range out {
				out[i] = map[string]any{"field": fields[i%len(fields)]}
			}
			return out
		}
		for _, tc := range []struct {
			name, query string
			vars        map[string]any
			refusal     string // "" when it runs
		}{
			{"not nested 3,000 deep (fuzzed)", apps, map[string]any{"w": nestedNot(3000)}, "$w nests filters more than 8 levels deep"},
			{"not nested 9 deep", apps, map[string]any{"w": nestedNot(graph.MaxFilterDepth + 1)}, "$w nests filters more than 8 levels deep"},
			{"not nested 8 deep", apps, map[string]any{"w": nestedNot(graph.MaxFilterDepth)}, ""},
			{"8 deep around a variable of 2", `query($w: ApplicationWhereInput) { applications(first: 5, where: {not: {not: {not: {not: {not: {not: {not: $w}}}}}}}) { totalCount } }`,
				map[string]any{"w": nestedNot(2)}, "applications: where nests filters more than 8 levels deep"},
			{"edge filters nested 9 deep", users, map[string]any{"w": connections(graph.MaxFilterDepth + 1)}, "$w nests filters more than 8 levels deep"},
			{"edge filters nested 8 deep", users, map[string]any{"w": connections(graph.MaxFilterDepth)}, ""},
			{"an or of 45,000 (fuzzed)", apps, map[string]any{"w": map[string]any{"or": repeated(45000, nameFilter)}}, "$w holds a list of 45000 values; the limit is 100"},
			{"an or of 100 sets 101 fields", apps, map[string]any{"w": map[string]any{"or": repeated(100, nameFilter)}}, "$w sets more than 100 fields"},
			{"an or of 99", apps, map[string]any{"w": map[string]any{"or": repeated(99, nameFilter)}}, ""},
			{"an or of 100 in the document around a variable", `query($o: [ApplicationWhereInput!]) { applications(first: 5, where: {or: $o}) { totalCount } }`,
				map[string]any{"o": repeated(100, nameFilter)}, "applications: where sets more than 100 fields"},
			{"an empty filter inside another", apps, map[string]any{"w": map[string]any{"or": []any{nameFilter, map[string]any{}}}}, "$w holds an empty filter"},
			{"an empty where", apps, map[string]any{"w": map[string]any{}}, ""},
			{"70,000 ids (fuzzed)", apps, map[string]any{"w": map[string]any{"idIn": ids(70000)}}, "$w holds a list of 70000 values; the limit is 100"},
			{"101 names inside an and", apps, map[string]any{"w": map[string]any{"and": []any{map[string]any{"nameIn": ids(101)}}}}, "$w holds a list of 101 values; the limit is 100"},
			{"101 ids in the document's where", `query($in: [ID!]) { viewer { connections(first: 5, where: {and: [{idIn: $in}]}) { totalCount } } }`,
				map[string]any{"in": ids(101)}, "connections: where holds a list of 101 values; the limit is 100"},
			{"100 ids", apps, map[string]any{"w": map[string]any{"idIn": ids(100)}}, ""},
			{"an or of 101 in the document", `{ applications(first: 5, where: {or: [` + strings.Repeat(`{nameContains: "a"} `, 101) + `]}) { totalCount } }`, nil,
				"applications: where holds a list of 101 values; the limit is 100"},
			{"2,000 orders (fuzzed)", order, map[string]any{"o": orders(2000)}, "users: orderBy lists 2000 orders; the limit is 5"},
			{"6 orders", order, map[string]any{"o": orders(graph.MaxOrderBy + 1)}, "users: orderBy lists 6 orders; the limit is 5"},
			{"5 orders", order, map[string]any{"o": orders(graph.MaxOrderBy)}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var opts []client.Option
				for k, v := range tc.vars {
					opts = append(opts, client.Var(k, v))
				}
				var got map[string]any
				err := f.as(alice.ID).Post(tc.query, &got, opts...)
				switch {
				case tc.refusal == "" && err != nil:
					t.Fatalf("within the limits: %.300v", err)
				case tc.refusal != "" && refusal(err) != tc.refusal:
					t.Fatalf("answered %.300v, want %q (invalid_request)", err, tc.refusal)
				case got != nil && tc.refusal != "":
					t.Fatalf("data %v: the refusal comes before execution", got)
				}
			})
		}
	})
}

// A where variable is measured before gqlgen coerces the variables, which reads every field of
// the input type for each object given (300,000 empty filters held a core for 8 seconds): the
// endpoint refuses it at its definition. The handler alone still refuses it, at the field,
// once coerced.
func TestWhereVariablesAreMeasuredBeforeCoercion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "Alice")
	const query = `query($w: ApplicationWhereInput) { applications(first: 5, where: $w) { totalCount } }`
	w := map[string]any{"or": repeated(graph.MaxFilterList+1, map[string]any{})}
	for _, tc := range []struct {
		name string
		f    *fixture
		want string
	}{
		{"the endpoint", endpoint(newFixture(t, f.db)), `[{"message":"$w holds a list of 101 values; the limit is 100","locations":[{"line":1,"column":7}],"extensions":{"code":"invalid_request"}}]`},
		{"the handler alone", f, `[{"message":"applications: where holds a list of 101 values; the limit is 100","locations":[{"line":1,"column":36}],"extensions":{"code":"invalid_request"}}]`},
	} {
		var got map[string]any
		if err := tc.f.as(alice.ID).Post(query, &got, client.Var("w", w)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %.300v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// A value gqlgen cannot read into its argument's type (a Time that is not RFC 3339, as a
// literal or a variable) is the client's mistake: invalid_request, naming the argument, on the
// field's path, and nothing logged. Before, it answered "internal error" and was logged at
// ERROR as a server fault.
func TestMalformedArgumentsAreInvalidRequests(t *testing.T) {
	t.Parallel()
	r := newRefusals(t)
	const rfc = "time should be RFC3339Nano formatted string"
	nested := fmt.Sprintf(`{ application(id: %q) { analytics { days: signupsPerDay(from: "x", to: "y") { count } } } }`, r.app.ID)
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"a literal", `{ applications(first: 5, where: {createdAtGT: "yesterday"}) { totalCount } }`, nil,
			`{"message":"applications: argument where.createdAtGT: ` + rfc + `","path":["applications"],"locations":[{"line":1,"column":3}],"extensions":{"code":"invalid_request"}}`},
		{"a variable", `query($t: Time) { applications(first: 5, where: {or: [{nameContains: "a"}, {createdAtGT: $t}]}) { totalCount } }`, map[string]any{"t": "yesterday"},
			`{"message":"applications: argument where.or[1].createdAtGT: ` + rfc + `","path":["applications"],"locations":[{"line":1,"column":19}],"extensions":{"code":"invalid_request"}}`},
		{"a nested field's arguments", nested, nil, fmt.Sprintf(
			`{"message":"days: argument from: `+rfc+`","path":["application","analytics","days"],"locations":[{"line":1,"column":%d}],"extensions":{"code":"invalid_request"}}`,
			strings.Index(nested, "days")+1)},
	} {
		t.Run(tc.name, func(t *testing.T) { r.wantOneError(t, tc.query, tc.vars, tc.want) })
	}
}

// A filter that sets nothing although it is not literally empty ({not: {or: []}}) is refused
// by ent when the query is built: the client's mistake, invalid_request, nothing logged. On
// the person's connections it was an internal error, logged at ERROR.
func TestFiltersThatSetNothingAreInvalidRequests(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	var logged strings.Builder
	f.handler = graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: f.identity, Portal: f.portal}, slog.New(slog.NewTextHandler(&logged, nil)))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "Alice")
	for _, query := range []string{
		`{ viewer { connections(first: 5, where: {not: {or: []}}) { totalCount } } }`,
		`{ viewer { connections(first: 5, where: {not: {regionIsNil: false}}) { totalCount } } }`,
		`{ applications(first: 5, where: {not: {or: []}}) { totalCount } }`,
	} {
		var got map[string]any
		err := f.as(alice.ID).Post(query, &got)
		if refusal(err) == "" {
			t.Errorf("%s: %.300v, want invalid_request", query, err)
		}
	}
	if logged.Len() != 0 {
		t.Errorf("logged: %s", logged.String())
	}
}

// refusals is the fixture of the tests that check a client's bad value is refused with its
// code and nothing logged: its handler logs into logged, and Alice owns the application Alpha.
type refusals struct {
	*fixture
	logged strings.Builder
	alice  *ent.User
	app    *ent.Application
}

func newRefusals(t *testing.T) *refusals {
	t.Helper()
	db := storetest.SQLite(t)
	r := &refusals{fixture: newFixture(t, db)}
	r.handler = graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: r.identity, Portal: r.portal},
		slog.New(slog.NewTextHandler(&r.logged, nil)))
	ctx := context.Background()
	r.alice, _ = r.identity.CreateUser(ctx, "alice@example.com", "Alice")
	created, err := r.portal.CreateApplication(r.asAlice(), portal.ApplicationInput{Name: "Alpha"})
	if err != nil {
		t.Fatal(err)
	}
	r.app = created.Application
	return r
}

// asAlice is a context carrying Alice's session.
func (r *refusals) asAlice() context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: r.alice.ID, SignedInAt: time.Now()})
}

// wantOneError posts query with vars as Alice and checks that the answer is the one error
// want, exactly, and that nothing was logged (the log is emptied first): a client's bad value
// is no server fault.
func (r *refusals) wantOneError(t *testing.T, query string, vars map[string]any, want string) {
	t.Helper()
	r.logged.Reset()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(auth.WithSession(req.Context(), auth.Session{UserID: r.alice.ID, ID: "test"}))
	w := httptest.NewRecorder()
	r.handler.ServeHTTP(w, req)
	var resp struct{ Errors []json.RawMessage }
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Errors) != 1 {
		t.Fatalf("%d %.300s, want one error", w.Code, w.Body)
	}
	if got := string(resp.Errors[0]); got != want {
		t.Fatalf("error %.300s\nwant  %s", got, want)
	}
	if r.logged.Len() != 0 {
		t.Fatalf("logged %.300q: a client's bad value is no server fault", r.logged.String())
	}
}
