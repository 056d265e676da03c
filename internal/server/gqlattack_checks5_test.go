package server

import (
	"fmt"
	"strings"
	"testing"
)

// A person's activity and an application's activity take a types filter; like every other
// list argument it is bounded, and a long one is the caller's mistake (bad_types), not
// an internal error: 40,000 repeated types (a 400 kB body) passed SQLite's limit of bound
// parameters, 70,000 PostgreSQL's, and both answered "internal error".
func TestActivityTypesFilterIsBounded(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("types-dev@example.com", "Dev", true)
		app := dev.createApp("Typed", false)
		types := make([]string, 70000)
		for i := range types {
			types[i] = "SIGN_IN"
		}
		for _, c := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"viewer.activity", `query($t: [ActivityEventType!]) { viewer { activity(types: $t) { events { id } } } }`,
				map[string]any{"t": types}},
			{"application.activity", `query($id: ID!, $t: [ActivityEventType!]) { application(id: $id) { activity(types: $t) { events { id } } } }`,
				map[string]any{"id": app, "t": types}},
		} {
			g := dev.gql(c.query, c.vars)
			if g.code() != "bad_types" {
				t.Errorf("%s with %d types: code %q (%+v), want bad_types", c.name, len(types), g.code(), g.Errors)
			}
		}
	})
}

// importQ imports $users into $app; rollbackQ rolls back its run $src.
const (
	importQ   = `mutation($app: ID!, $users: [ImportUserInput!]!) { importUsers(appId: $app, input: {users: $users}) { source { id } } }`
	rollbackQ = `mutation($app: ID!, $src: ID!) { rollbackImport(appId: $app, sourceId: $src) { withdrawnLinks } }`
)

// refuseProposalsOf refuses, as p, the pending links application app proposed to p.
func (p *person) refuseProposalsOf(app string) {
	links := p.mustGQL(`{ viewer { pendingLinks { id applicationId } } }`, nil)["viewer"].(map[string]any)["pendingLinks"].([]any)
	for _, l := range links {
		if l.(map[string]any)["applicationId"] == app {
			p.mustGQL(`mutation($id: ID!) { refusePendingLink(input: {id: $id}) { refusedId } }`, map[string]any{"id": l.(map[string]any)["id"]})
		}
	}
}

// Import proposals are counted against the owner's total of pending links, and the answer of
// an import at that total must not depend on what the people proposed did: a refused link is
// kept when its run is rolled back (so that no later run revives it) while an open one is
// withdrawn, so the total after a rollback counted the refusals, and the next import's
// answer ("this run would make it N") told the developer that the person holding an imported
// address has an account and refused, which the rollback's own withdrawnLinks and the
// application's activity log take care not to tell.
func TestPendingLinkTotalTellsNoRefusal(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		e.srv.portal.MaxPendingLinks = 3
		ann := e.person("ann.refuses@example.com", "Ann", true)
		answers := map[bool]string{}
		for i, refuse := range []bool{true, false} {
			dev := e.person(fmt.Sprintf("owner%d@example.com", i), "Owner", true)
			app := dev.createApp(fmt.Sprintf("Prober%d", i), false)
			d := dev.mustGQL(importQ, map[string]any{"app": app, "users": []map[string]any{{"externalUserId": "crm-1", "email": ann.user.Email}}})
			src := d["importUsers"].(map[string]any)["source"].(map[string]any)["id"]
			if refuse {
				ann.refuseProposalsOf(app)
			}
			rb := dev.mustGQL(rollbackQ, map[string]any{"app": app, "src": src})
			if n := rb["rollbackImport"].(map[string]any)["withdrawnLinks"]; n != float64(1) {
				t.Fatalf("refused=%v: withdrawnLinks %v, want 1", refuse, n)
			}
			var fresh []map[string]any
			for j := range 3 {
				fresh = append(fresh, map[string]any{"externalUserId": fmt.Sprintf("crm-%d", j+2), "email": fmt.Sprintf("nobody%d-%d@example.net", i, j)})
			}
			g := dev.gql(importQ, map[string]any{"app": app, "users": fresh})
			answers[refuse] = g.code()
			if len(g.Errors) > 0 {
				answers[refuse] += ": " + g.Errors[0].Message
			}
		}
		if answers[true] != answers[false] {
			t.Errorf("after a rollback, the next import answers %q when the person refused and %q when they did not", answers[true], answers[false])
		}
	})
}

// The same through the list of import runs: a rolled-back run that a refused link still names
// is not spent and stays listed once its rows are trimmed, while the same run whose link was
// withdrawn is trimmed away (trimImportRuns), so the runs listed told the developer which
// proposals the people refused.
func TestImportRunsListTellsNoRefusal(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		e.srv.portal.MaxImportRows, e.srv.portal.MaxImportRuns = 1, 1
		ann := e.person("ann.lists@example.com", "Ann", true)
		listed := map[bool]float64{}
		for i, refuse := range []bool{true, false} {
			dev := e.person(fmt.Sprintf("lister%d@example.com", i), "Owner", true)
			app := dev.createApp(fmt.Sprintf("Lister%d", i), false)
			run := func(email string) any {
				d := dev.mustGQL(importQ, map[string]any{"app": app, "users": []map[string]any{{"externalUserId": "crm-" + email, "email": email}}})
				return d["importUsers"].(map[string]any)["source"].(map[string]any)["id"]
			}
			first := run(ann.user.Email)
			if refuse {
				ann.refuseProposalsOf(app)
			}
			dev.mustGQL(rollbackQ, map[string]any{"app": app, "src": first})
			dev.mustGQL(rollbackQ, map[string]any{"app": app, "src": run(fmt.Sprintf("nobody%d-a@example.net", i))})
			run(fmt.Sprintf("nobody%d-b@example.net", i))
			d := dev.mustGQL(`query($app: ID!) { application(id: $app) { importSources(first: 10) { totalCount } } }`, map[string]any{"app": app})
			listed[refuse] = d["application"].(map[string]any)["importSources"].(map[string]any)["totalCount"].(float64)
		}
		if listed[true] != listed[false] {
			t.Errorf("after the same runs, %v runs are listed when the person refused the first one's proposal and %v when they did not", listed[true], listed[false])
		}
	})
}

// An activity page is a query of its own that reads up to 50 events when first is not given,
// and the complexity limit must price it so: activity was missing from resolverCost and, asked
// without first, counted as one copy of its selection, so 10 viewer aliases of a fragment of
// 100 activity aliases (1,000 queries, up to 50,000 events) cost 3,220 points and ran, while
// the same operation with first: 50 is refused. With 60 aliases of viewer sharing a types
// variable of 5,000 entries (a 60 kB request) one operation ran 6,000 queries with 5,000 bound
// parameters each: 25 s of database work on SQLite, 30 s on PostgreSQL, about ten of them a
// minute within one free account's GraphQL budget.
func TestActivityPagesArePricedAsTheirDefaultPage(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("priced-dev@example.com", "Dev", true)
		app := dev.createApp("Priced", false)
		operation := func(vars, parent, parentType, args string) string {
			var q strings.Builder
			q.WriteString("query" + vars + " {")
			for i := range 10 {
				fmt.Fprintf(&q, " p%d: %s { ...F }", i, parent)
			}
			fmt.Fprintf(&q, " } fragment F on %s {", parentType)
			for i := range 100 {
				fmt.Fprintf(&q, " a%d: activity%s { events { id } }", i, args)
			}
			q.WriteString(" }")
			return q.String()
		}
		for _, p := range []struct {
			vars, parent, typ string
			values            map[string]any
		}{{"", "viewer", "User", nil}, {"($app: ID!)", "application(id: $app)", "Application", map[string]any{"app": app}}} {
			explicit := dev.gql(operation(p.vars, p.parent, p.typ, "(first: 50)"), p.values)
			if explicit.code() == "" {
				t.Fatalf("%s: 1,000 activity pages of 50 were not refused: %+v", p.typ, explicit.Errors)
			}
			implicit := dev.gql(operation(p.vars, p.parent, p.typ, ""), p.values)
			if implicit.code() != explicit.code() {
				t.Errorf("%s: 1,000 activity pages of the default 50 answer code %q, with first: 50 code %q", p.typ, implicit.code(), explicit.code())
			}
		}
	})
}
