package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/ent/appmember"
	"loginsign/graph"
	"loginsign/internal/account"
	"loginsign/internal/auth"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The resolvers are the glue between the principal of the request and the domain: each passes
// the application it was asked about to the domain's check, and keeps the check's answer for
// that application only.

// One operation that reads Bob's own application and, through his connection, Alice's keeps
// each team check for its own application: Bob reads his redirect URIs once, where his own
// application is, and Alice's application answers not_found for them as it does alone.
func TestATeamReadOfOneApplicationAnswersForNoOther(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		const bobsURI = "https://bob-shop.example/cb"
		if _, err := p.f.portal.CreateApplication(auth.WithSession(context.Background(), auth.Session{UserID: p.bob, SignedInAt: time.Now()}),
			portal.ApplicationInput{Name: "Bob's app", RedirectURIs: []string{bobsURI}}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`{ applications(first: 5) { edges { node { name redirectUris } } } viewer { connections(first: 5) { edges { node { application { name redirectUris } } } } } }`,
			`{ viewer { connections(first: 5) { edges { node { application { name redirectUris } } } } } applications(first: 5) { edges { node { name redirectUris } } } }`,
		} {
			got, codes := answer(t, p.f, p.bob, q)
			if n := strings.Count(got, bobsURI); n != 1 || !slices.Equal(codes, []string{"not_found"}) {
				t.Errorf("Bob's own application and Alice's in one query: his redirect URI appears %d times with errors %v, want once with [not_found] (Alice's): %s",
					n, codes, got)
			}
			if strings.Contains(got, "staging-admin") {
				t.Errorf("Bob reads Alice's redirect URIs: %s", got)
			}
		}
	})
}

// nodes(ids:) answers at most 100 ids; a longer list is refused before any is loaded.
func TestNodesRefusesMoreThanAHundredIDs(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "Alice")
		q := `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`
		for n, refused := range map[int]bool{100: false, 101: true} {
			list := make([]string, n)
			for i := range list {
				list[i] = fmt.Sprintf("usr_unknown%d", i)
			}
			got, codes := answer(t, f, alice.ID, q, client.Var("ids", list))
			if refused && !slices.Equal(codes, []string{"invalid_request"}) {
				t.Errorf("nodes of %d ids: errors %v, want [invalid_request] (at most 100 ids): %.200s", n, codes, got)
			}
			if !refused && len(codes) != 0 {
				t.Errorf("nodes of %d ids: errors %v, want none: %.200s", n, codes, got)
			}
		}
	})
}

// A support member reads the application but not its analytics: the analytics field itself is
// refused, not only the counts under it.
func TestASupportMemberReadsNoAnalytics(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		q := `query($app: ID!) { application(id: $app) { name analytics { __typename } } }`
		if got, codes := answer(t, p.f, p.alice, q, client.Var("app", p.app.ID)); len(codes) != 0 || !strings.Contains(got, "AppAnalytics") {
			t.Fatalf("the owner's analytics: errors %v: %s", codes, got)
		}
		got, codes := answer(t, p.f, p.carol, q, client.Var("app", p.app.ID))
		if len(codes) == 0 || strings.Contains(got, "AppAnalytics") {
			t.Errorf("a support member's analytics: errors %v, want the field refused: %s", codes, got)
		}
	})
}

// The quickstart is the team's: a person who signed in to the application reaches it through
// their connection and is answered not_found, as for the redirect URIs it is built from.
func TestAConnectedPersonReadsNoQuickstart(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		signing, err := seal.New([]byte("0123456789abcdef0123456789abcdef"), "signing keys")
		if err != nil {
			t.Fatal(err)
		}
		o := oauth.New(db, kvtest.Embedded(t), p.f.identity, nil, signing, oauth.Config{Issuer: "https://id.test.example"}, nil)
		f := &fixture{db: db, identity: p.f.identity, portal: p.f.portal,
			handler: graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: p.f.identity, Portal: p.f.portal, OAuth: o}, slog.New(slog.DiscardHandler))}
		owner := `query($app: ID!) { application(id: $app) { quickstart { issuer redirectUri } } }`
		if got, codes := answer(t, f, p.alice, owner, client.Var("app", p.app.ID)); len(codes) != 0 || !strings.Contains(got, "https://a.example.com/cb") {
			t.Fatalf("the owner's quickstart: errors %v: %s", codes, got)
		}
		viaConnection := `{ viewer { connections(first: 5) { edges { node { application { name quickstart { issuer redirectUri } } } } } } }`
		got, codes := answer(t, f, p.bob, viaConnection)
		if !slices.Equal(codes, []string{"not_found"}) || strings.Contains(got, "id.test.example") {
			t.Errorf("Bob's quickstart of Alice's application through his connection: errors %v, want [not_found] and no quickstart: %s", codes, got)
		}
	})
}

// A mutation keeps no team check: its fields run one after another and each answers after the
// changes of the fields before it. Bob, a support member who also signed in to the
// application, reads its redirect URIs through his connection, leaves the team, and in the
// same mutation reads them no more.
func TestAMutationReadsTheTeamAfterItsOwnChanges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		ctx := context.Background()
		if err := db.AppMember.Create().SetApplicationID(p.app.ID).SetUserID(p.bob).SetRole(appmember.RoleSupport).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		acc := &account.Service{DB: db, Identity: p.f.identity, Now: time.Now}
		f := &fixture{db: db, identity: p.f.identity, portal: p.f.portal,
			handler: graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: p.f.identity, Portal: p.f.portal, Account: acc}, slog.New(slog.DiscardHandler))}
		read := `mutation($conn: ID!) { setAppEmailMuted(input: {connectionId: $conn, muted: false}) { connection { application { redirectUris } } } }`
		if got, codes := answer(t, f, p.bob, read, client.Var("conn", p.conn)); len(codes) != 0 || !strings.Contains(got, "staging-admin") {
			t.Fatalf("Bob on the team reads the redirect URIs through his connection: errors %v: %s", codes, got)
		}
		q := `mutation($conn: ID!, $app: ID!) {
			before: setAppEmailMuted(input: {connectionId: $conn, muted: false}) { connection { application { redirectUris } } }
			leaveApplication(input: {applicationId: $app}) { applicationId }
			after: setAppEmailMuted(input: {connectionId: $conn, muted: false}) { connection { application { redirectUris } } }
		}`
		got, codes := answer(t, f, p.bob, q, client.Var("conn", p.conn), client.Var("app", p.app.ID))
		// redirectUris is non-null: the refusal after leaving nulls the whole answer, so the
		// errors tell what each read answered.
		if !slices.Equal(codes, []string{"not_found"}) || !strings.Contains(got, `"path":["after","connection","application","redirectUris"]`) {
			t.Errorf("redirect URIs before and after leaving the team in one mutation: errors %v, want one not_found, at after: %s", codes, got)
		}
		if strings.Contains(got, "staging-admin") {
			t.Errorf("Bob reads the redirect URIs after leaving the team: %s", got)
		}
	})
}
