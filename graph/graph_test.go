package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

type fixture struct {
	db       *store.DB
	identity *identity.Service
	portal   *portal.Service
	handler  http.Handler
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	sealer, err := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
	if err != nil {
		t.Fatal(err)
	}
	id := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
	p := &portal.Service{DB: db, WebhookSecrets: sealer}
	h := graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: id, Portal: p}, slog.New(slog.DiscardHandler))
	return &fixture{db: db, identity: id, portal: p, handler: h}
}

// as returns a client whose requests carry userID's session ("" for anonymous).
func (f *fixture) as(userID string) *client.Client {
	return client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if userID != "" {
			r = r.WithContext(auth.WithSession(r.Context(), auth.Session{UserID: userID, ID: "test", SignedInAt: time.Now()}))
		}
		f.handler.ServeHTTP(w, r)
	}))
}

func TestNodeIsOnlyVisibleToItsOwner(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
		bob, _ := f.identity.CreateUser(ctx, "bob@example.com", "Bob")
		app, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}),
			portal.ApplicationInput{Name: "Alice's app", RedirectURIs: []string{"https://a.example.com/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		query := `query($id: ID!) { node(id: $id) { id ... on Application { name } } }`
		var got struct{ Node *struct{ ID, Name string } }
		if err := f.as(alice.ID).Post(query, &got, client.Var("id", app.Application.ID)); err != nil {
			t.Fatalf("owner: %v", err)
		}
		if got.Node == nil || got.Node.Name != "Alice's app" {
			t.Fatalf("owner sees %+v", got.Node)
		}
		for name, uid := range map[string]string{"other developer": bob.ID, "anonymous": ""} {
			err := f.as(uid).Post(query, &got, client.Var("id", app.Application.ID))
			if err == nil {
				t.Fatalf("%s read another developer's application", name)
			}
		}
		// Another person's account is exactly as invisible as an unknown id.
		var errBob, errUnknown string
		if err := f.as(bob.ID).Post(query, &got, client.Var("id", alice.ID)); err != nil {
			errBob = err.Error()
		}
		if err := f.as(bob.ID).Post(query, &got, client.Var("id", "usr_doesnotexist")); err != nil {
			errUnknown = err.Error()
		}
		if errBob == "" || errBob != errUnknown {
			t.Fatalf("someone else's account: %q; unknown id: %q", errBob, errUnknown)
		}
	})
}

func TestViewerAndApplications(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
		bob, _ := f.identity.CreateUser(ctx, "bob@example.com", "Bob")
		actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
		for _, n := range []string{"One", "Two", "Three"} {
			if _, err := f.portal.CreateApplication(actx, portal.ApplicationInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		var got struct {
			Viewer       *struct{ GlobalID, Email string }
			Applications struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
				PageInfo   struct{ HasNextPage bool }
			}
		}
		q := `{ viewer { globalID email } applications(first: 2, orderBy: [{field: NAME}]) { totalCount edges { node { name } } pageInfo { hasNextPage } } }`
		if err := f.as(alice.ID).Post(q, &got); err != nil {
			t.Fatal(err)
		}
		if got.Viewer == nil || got.Viewer.GlobalID != alice.GlobalID || got.Viewer.Email != "alice@example.com" {
			t.Fatalf("viewer = %+v", got.Viewer)
		}
		if got.Applications.TotalCount != 3 || len(got.Applications.Edges) != 2 || got.Applications.Edges[0].Node.Name != "One" || !got.Applications.PageInfo.HasNextPage {
			t.Fatalf("applications = %+v", got.Applications)
		}
		if err := f.as(bob.ID).Post(q, &got); err != nil {
			t.Fatal(err)
		}
		if got.Applications.TotalCount != 0 {
			t.Fatalf("bob sees %d of alice's applications", got.Applications.TotalCount)
		}
		var anon struct{ Viewer *struct{ GlobalID string } }
		if err := f.as("").Post(`{ viewer { globalID } }`, &anon); err != nil || anon.Viewer != nil {
			t.Fatalf("anonymous viewer = %+v, %v", anon.Viewer, err)
		}
		err := f.as("").Post(`{ applications(first: 1) { totalCount } }`, &got)
		if err == nil || !strings.Contains(err.Error(), `"code":"unauthorized"`) {
			t.Fatalf("anonymous applications: %v", err)
		}
	})
}

func TestCreateApplicationShowsSecretsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "")
	var got struct {
		CreateApplication struct {
			Application   struct{ ID, Name string }
			ClientSecret  string
			WebhookSecret *string
		}
	}
	q := `mutation($in: CreateApplicationInput!) { createApplication(input: $in) { application { id name } clientSecret webhookSecret } }`
	in := map[string]any{"name": "Hooks", "redirectUris": []string{"https://h.example.com/cb"}, "webhookUrl": "https://h.example.com/hook"}
	if err := f.as(alice.ID).Post(q, &got, client.Var("in", in)); err != nil {
		t.Fatal(err)
	}
	c := got.CreateApplication
	if !strings.HasPrefix(c.ClientSecret, "lss_") || c.WebhookSecret == nil || !strings.HasPrefix(*c.WebhookSecret, "whsec_") {
		t.Fatalf("payload = %+v", c)
	}
	app, err := f.db.Application.Get(context.Background(), c.Application.ID)
	if err != nil {
		t.Fatal(err)
	}
	if app.SecretHash == c.ClientSecret || strings.Contains(string(app.WebhookSecret), *c.WebhookSecret) {
		t.Fatal("a secret is stored raw")
	}
	bad := map[string]any{"name": "Bad", "redirectUris": []string{"https://x.example.com/cb#frag"}}
	err = f.as(alice.ID).Post(q, &got, client.Var("in", bad))
	if err == nil || !strings.Contains(err.Error(), `"code":"invalid_request"`) || !strings.Contains(err.Error(), "fragment") {
		t.Fatalf("redirect URI with fragment: %v", err)
	}
}

func TestQueryLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "")
	deep := `{ viewer { connections(first: 1) { edges { node { licenses(first: 1) { edges { node { linkedConnection { licenses(first: 1) { edges { node { linkedConnection { id } } } } } } } } } } } } }`
	var got map[string]any
	err := f.as(alice.ID).Post(deep, &got)
	if err == nil || !strings.Contains(err.Error(), "QUERY_TOO_DEEP") {
		t.Fatalf("deep query: %v", err)
	}
	// GraphiQL's introspection nests ofType eight levels below __schema: the playground needs it.
	introspection := `{ __schema { types { name fields { name args { name type { ...T } } } } } } fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }`
	if err := f.as(alice.ID).Post(introspection, &got); err != nil {
		t.Fatalf("introspection: %v", err)
	}
	wide := `{ applications(first: 10000) { edges { node { id } } } a2: applications(first: 10000) { edges { node { id } } } }`
	err = f.as(alice.ID).Post(wide, &got)
	if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Fatalf("complex query: %v", err)
	}
}

// A small document whose fragments each spread the next twice expands to 2^n fields where it
// is spread. It is refused for its expanded size, before the depth and complexity walks
// (gqlgen's complexity walker expands a fragment again at every spread: at n = 40 it would
// hold a core for hours, for anyone, signed in or not). The watchdog only turns such a hang
// into a failure.
func TestFragmentFanOutIsRefusedBeforeTheWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	const n = 40
	var doc strings.Builder
	doc.WriteString("query { ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&doc, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&doc, "fragment F%d on Query { __typename }\n", n)
	done := make(chan error, 1)
	go func() {
		var got map[string]any
		done <- f.as("").Post(doc.String(), &got)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "QUERY_TOO_LARGE") {
			t.Fatalf("a fragment fan-out to 2^%d fields answered %v, want QUERY_TOO_LARGE", n, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("a fragment fan-out to 2^%d fields is still being worked on after a minute", n)
	}
	// Fragments spread many times within the limit still work.
	var got map[string]any
	if err := f.as("").Post(`query { ...A ...A a: __typename } fragment A on Query { __typename ...B ...B } fragment B on Query { __typename }`, &got); err != nil {
		t.Fatalf("a document of a few spread fragments: %v", err)
	}
}

// A connection's edges are read with first or last, or not at all: asked for without either
// they would be read whole (ent's edges loaded with their parent too), priced as one. Its
// totalCount alone reads no rows and needs neither.
func TestConnectionsAreReadAPageAtATime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "")
	for _, tt := range []struct {
		name, query string
		vars        map[string]any
		refused     bool
	}{
		{"edges without first", `{ viewer { connections { edges { node { id } } } } }`, nil, true},
		{"edges through a fragment", `{ viewer { connections { ...E } } } fragment E on AppConnectionConnection { ... on AppConnectionConnection { edges { cursor } } }`, nil, true},
		{"first given as null", `query($n: Int) { viewer { emails(first: $n) { edges { cursor } } } }`, map[string]any{"n": nil}, true},
		{"an ent edge loaded with its parent", `{ node(id: "imp_x") { ... on ImportSource { rows { edges { node { email } } } } } }`, nil, true},
		{"first", `{ viewer { connections(first: 5) { edges { node { id } } } } }`, nil, false},
		{"last as a variable", `query($n: Int) { viewer { emails(last: $n) { edges { cursor } } } }`, map[string]any{"n": 2}, false},
		{"totalCount alone", `{ viewer { connections { totalCount } } }`, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			var opts []client.Option
			for k, v := range tt.vars {
				opts = append(opts, client.Var(k, v))
			}
			err := f.as(alice.ID).Post(tt.query, &got, opts...)
			if refused := err != nil && strings.Contains(err.Error(), "FIRST_OR_LAST_REQUIRED"); refused != tt.refused {
				t.Fatalf("refused = %v (%v), want %v", refused, err, tt.refused)
			}
			if !tt.refused && err != nil {
				t.Fatal(err)
			}
		})
	}
}

// nodes(ids:) costs its selection once per id, and an unpaged list of bounded length (an
// application's license variants) as many times as it may hold, so neither repeats a costly
// selection for the price of one.
func TestListsArePricedAtTheirLength(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "")
	rows := `query($ids: [ID!]!) { nodes(ids: $ids) { ... on ImportSource { rows(first: 1000) { edges { node { email } } } } } }`
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = "imp_same"
	}
	var got map[string]any
	if err := f.as(alice.ID).Post(rows, &got, client.Var("ids", ids)); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Fatalf("100 ids of a 1,000-row selection: %v", err)
	}
	if err := f.as(alice.ID).Post(rows, &got, client.Var("ids", ids[:1])); err != nil && strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Fatalf("one id of it: %v", err)
	}
	var variants strings.Builder
	variants.WriteString(`{ application(id: "app_x") {`)
	for i := range 10 {
		fmt.Fprintf(&variants, " v%d: licenseVariants { codeCounts { unused } }", i)
	}
	variants.WriteString(" } }")
	if err := f.as(alice.ID).Post(variants.String(), &got); err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Fatalf("ten copies of every variant's counts: %v", err)
	}
}

func TestIntrospectionIsBoundedButToolsWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	var got map[string]any
	tool := `{ __schema { queryType { name } types { name fields { name args { name type { kind ofType { kind ofType { kind ofType { kind ofType { kind ofType { kind ofType { name } } } } } } } } } } } }`
	if err := f.as("").Post(tool, &got); err != nil {
		t.Fatalf("a GraphiQL-shaped introspection query was refused: %v", err)
	}
	amplify := `{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`
	// gqlparser's validation bounds introspection nesting (the depth limit exempts it).
	if err := f.as("").Post(amplify, &got); err == nil || !strings.Contains(err.Error(), "introspection depth") {
		t.Fatalf("an amplifying introspection query: %v", err)
	}
}
