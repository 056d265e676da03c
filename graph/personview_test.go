package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/ent/licensecode"
	"loginsign/graph"
	"loginsign/internal/account"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// teamOnlyAppFields are the Application fields only the application's team reads; a person who
// merely signed in to it reads the public ones (publicAppQuery), which its consent page shows.
var teamOnlyAppFields = []string{"createdAt", "updatedAt", "redirectUris", "allowedOrigins", "postLogoutRedirectUris",
	"clientRequestsPerMinute", "idTokenSigningAlg", "webhookUrl", "backchannelLogoutUri", "requirePushedAuthorizationRequests",
	"deletingSince"}

// TestEveryApplicationFieldIsPublicOrTeamOnly: each field entgql makes of an Application
// column is either one the consent page shows or one of teamOnlyAppFields, which the test
// below reads as a person and as the team: a column added to the schema is not exposed to
// every connected person unnoticed.
func TestEveryApplicationFieldIsPublicOrTeamOnly(t *testing.T) {
	def := graph.NewExecutableSchema(graph.Config{}).Schema().Types["Application"]
	public := strings.Fields(publicAppQuery)
	n := 0
	for _, f := range def.Fields {
		if f.Position == nil || f.Position.Src == nil || !strings.HasSuffix(f.Position.Src.Name, "ent.graphql") {
			continue // fields of the portal's schema, each with its own resolver and check
		}
		n++
		if !slices.Contains(public, f.Name) && !slices.Contains(teamOnlyAppFields, f.Name) {
			t.Errorf("Application.%s is neither a consent-page field nor in teamOnlyAppFields: decide who may read it", f.Name)
		}
	}
	if n == 0 {
		t.Fatal("no Application field from ent.graphql: the schema's source names changed")
	}
}

const publicAppQuery = "id name website iconUrl termsUrl privacyUrl iconURL termsURL privacyURL"

// personApp is an application of Alice's with settings naming internal hosts, Bob connected to
// it and holding one of its licenses, and Carol on its team with the least role (support).
type personApp struct {
	f                 *fixture
	app               *ent.Application
	alice, bob, carol string
	conn              string
	secrets           []string // values of team-only fields, as they would appear in an answer
	withLicenses      *fixture // a handler with the licenses domain (myLicenses)
}

func newPersonApp(t *testing.T, db *store.DB) *personApp {
	t.Helper()
	f := newFixture(t, db)
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	bob, _ := f.identity.CreateUser(ctx, "bob@example.com", "Bob")
	carol, _ := f.identity.CreateUser(ctx, "carol@example.com", "Carol")
	created, err := f.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()}), portal.ApplicationInput{
		Name: "Alice's app", Website: "https://a.example.com", IconURL: "https://a.example.com/icon.png",
		RedirectURIs:           []string{"https://a.example.com/cb", "https://staging-admin.corp.example:8443/cb"},
		AllowedOrigins:         []string{"https://origin-staging.corp.example:8443"},
		PostLogoutRedirectURIs: []string{"https://logout-staging.corp.example:8443/bye"},
		IDTokenSigningAlg:      "RS256", WebhookURL: "https://hooks.example.com/in", BackchannelLogoutURI: "https://bcl.example.com/out"})
	if err != nil {
		t.Fatal(err)
	}
	app, err := db.Application.UpdateOneID(created.Application.ID).SetClientRequestsPerMinute(4321).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AppMember.Create().SetApplicationID(app.ID).SetUserID(carol.ID).SetRole(appmember.RoleSupport).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var conn *ent.AppConnection
	if err := db.Tx(ctx, func(tx *ent.Tx) error {
		conn, err = connections.CreateWithAlias(ctx, tx, bob.ID, app.ID, "relay.example", "", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ls := licenses.New(db, f.portal.Authorize, time.Now)
	v, err := ls.CreateVariant(auth.WithSession(ctx, auth.Session{UserID: alice.ID}), app.ID, licenses.VariantInput{Name: "Pro"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.LicenseCode.Create().SetApplicationID(app.ID).SetVariantID(v.ID).SetCode("BOB-CODE-1").SetCodeKey("BOBCODE1").
		SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(now).SetCreatedAt(now).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	p := &personApp{f: f, app: app, alice: alice.ID, bob: bob.ID, carol: carol.ID, conn: conn.ID,
		secrets: []string{"staging-admin", "origin-staging", "logout-staging", "4321", "RS256", "hooks.example.com", "bcl.example.com",
			app.CreatedAt.UTC().Format("2006-01-02T15:04:05"), app.UpdatedAt.UTC().Format("2006-01-02T15:04:05")}}
	p.withLicenses = &fixture{db: db, identity: f.identity, portal: f.portal,
		handler: graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: f.identity, Portal: f.portal, Licenses: ls}, slog.New(slog.DiscardHandler))}
	return p
}

// answer runs query as uid and returns the whole answer as JSON, with the error codes.
func answer(t *testing.T, f *fixture, uid, query string, opts ...client.Option) (string, []string) {
	t.Helper()
	resp, err := f.as(uid).RawPost(query, opts...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var errs []struct {
		Extensions struct{ Code string }
	}
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatal(err)
		}
	}
	codes := make([]string, len(errs))
	for i, e := range errs {
		codes[i] = e.Extensions.Code
	}
	b, _ := json.Marshal(resp)
	return string(b), codes
}

// A person who merely signed in to an application reads, wherever the application reaches them
// (their connection, node of it, a license's variant or application, myLicenses), only what its
// consent page shows; each team-only field answers not_found as webhookUrl does. Its team, down
// to the support role, still reads every field.
func TestConnectedPersonReadsNoTeamOnlyApplicationField(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		paths := map[string]string{
			"connection":             `{ viewer { connections(first: 5) { edges { node { application { %s } } } } } }`,
			"node of the connection": `query($conn: ID!) { node(id: $conn) { ... on AppConnection { application { %s } } } }`,
			"license's application":  `{ viewer { connections(first: 5) { edges { node { licenses(first: 5) { edges { node { application { %s } } } } } } } } }`,
			"license variant":        `{ viewer { connections(first: 5) { edges { node { licenses(first: 5) { edges { node { variant { application { %s } } } } } } } } } }`,
			"myLicenses":             `query($app: ID!) { myLicenses(applicationId: $app) { application { %s } } }`,
			"myLicenses variant":     `query($app: ID!) { myLicenses(applicationId: $app) { variant { application { %s } } } }`,
		}
		vars := []client.Option{client.Var("conn", p.conn), client.Var("app", p.app.ID)}
		for name, q := range paths {
			// The public fields answer without an error: the dashboard reads them.
			got, codes := answer(t, p.withLicenses, p.bob, fmt.Sprintf(q, publicAppQuery), vars...)
			if len(codes) != 0 || !strings.Contains(got, `"name":"Alice's app"`) {
				t.Errorf("%s, public fields: %s", name, got)
			}
			for _, field := range teamOnlyAppFields {
				got, codes := answer(t, p.withLicenses, p.bob, fmt.Sprintf(q, "id name "+field), vars...)
				for _, s := range p.secrets {
					if strings.Contains(got, s) {
						t.Errorf("%s: Bob reads %s (%q): %s", name, field, s, got)
					}
				}
				if len(codes) == 0 || codes[0] != "not_found" {
					t.Errorf("%s: %s answers %v, want not_found as webhookUrl: %s", name, field, codes, got)
				}
			}
		}
		// The team reads them all, the owner and a support member alike.
		all := `query($app: ID!) { application(id: $app) { ` + publicAppQuery + " " + strings.Join(teamOnlyAppFields[:7], " ") + ` } }`
		for who, uid := range map[string]string{"owner": p.alice, "support member": p.carol} {
			got, codes := answer(t, p.withLicenses, uid, all, vars...)
			if len(codes) != 0 {
				t.Fatalf("%s: %v %s", who, codes, got)
			}
			for _, s := range p.secrets[:5] {
				if !strings.Contains(got, s) {
					t.Errorf("%s does not read %q: %s", who, s, got)
				}
			}
		}
		got, codes := answer(t, p.withLicenses, p.alice, `query($app: ID!) { application(id: $app) { webhookUrl backchannelLogoutUri } }`, vars...)
		if len(codes) != 0 || !strings.Contains(got, "hooks.example.com") || !strings.Contains(got, "bcl.example.com") {
			t.Errorf("owner's delivery URLs: %v %s", codes, got)
		}
	})
}

// A filter answers what the field would: the person's own lists (connections, addresses,
// licenses) refuse a where input that reaches an application's team-only field at any depth,
// and keep filtering on the public ones.
func TestConnectedPersonCannotFilterOnTeamOnlyApplicationFields(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		for name, q := range map[string]string{
			"connections by quota":              `{ viewer { connections(first: 5, where: {hasApplicationWith: [{clientRequestsPerMinuteGT: 4000}]}) { totalCount } } }`,
			"connections, under or":             `{ viewer { connections(first: 5, where: {or: [{hasApplicationWith: [{not: {createdAtGT: "2000-01-01T00:00:00Z"}}]}]}) { totalCount } } }`,
			"licenses by variant's application": `{ viewer { connections(first: 5) { edges { node { licenses(first: 5, where: {hasVariantWith: [{hasApplicationWith: [{updatedAtLT: "2999-01-01T00:00:00Z"}]}]}) { totalCount } } } } } }`,
			"addresses through the account":     `{ viewer { emails(first: 5, where: {hasUserWith: [{hasConnectionsWith: [{hasApplicationWith: [{clientRequestsPerMinute: 4321}]}]}]}) { totalCount } } }`,
		} {
			got, codes := answer(t, p.f, p.bob, q)
			if len(codes) == 0 || codes[0] != "invalid_request" || strings.Contains(got, `"totalCount"`) {
				t.Errorf("%s: %v %s, want invalid and no count", name, codes, got)
			}
		}
		got, codes := answer(t, p.f, p.bob, `{ viewer { connections(first: 5, where: {hasApplicationWith: [{nameContains: "Alice", iconURLNotNil: true}]}) { totalCount } } }`)
		if len(codes) != 0 || !strings.Contains(got, `"totalCount":1`) {
			t.Errorf("filter on public fields: %v %s", codes, got)
		}
	})
}

// A pending link (an import of the person's address they have not accepted) names no URL
// the developer chose: the dashboard would fetch it on opening, telling the developer that
// the address has an account before the person agreed to anything.
func TestPendingLinkCarriesNoDeveloperURL(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		p := newPersonApp(t, db)
		ctx := context.Background()
		dave, _ := p.f.identity.CreateUser(ctx, "dave@example.com", "Dave")
		if _, err := db.Application.UpdateOneID(p.app.ID).SetIconURL("https://tracker.example/pixel.png?import=1").Save(ctx); err != nil {
			t.Fatal(err)
		}
		imp, err := p.f.portal.Import(auth.WithSession(ctx, auth.Session{UserID: p.alice}), p.app.ID, portal.ImportRequest{
			Users: []portal.ImportUser{{ExternalUserID: "crm-42", Email: "dave@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(imp.Rows) != 1 {
			t.Fatalf("import rows = %d", len(imp.Rows))
		}
		acc := &account.Service{DB: db, Identity: p.f.identity, Now: time.Now}
		f := &fixture{db: db, identity: p.f.identity, portal: p.f.portal,
			handler: graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: p.f.identity, Portal: p.f.portal, Account: acc}, slog.New(slog.DiscardHandler))}
		got, codes := answer(t, f, dave.ID, `{ viewer { pendingLinks { id applicationId applicationName applicationIconUrl externalUserId } } }`)
		if len(codes) != 0 || !strings.Contains(got, `"externalUserId":"crm-42"`) || !strings.Contains(got, `"applicationIconUrl":null`) ||
			strings.Contains(got, "tracker.example") {
			t.Errorf("pending links = %v %s, want the link with applicationIconUrl null", codes, got)
		}
	})
}
