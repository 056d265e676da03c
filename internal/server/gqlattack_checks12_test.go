package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A signed-out caller of node(id:) and nodes(ids:) is answered "sign in first" whatever the
// id: the node was loaded before the session was asked for, so an id that exists answered
// unauthorized and one that does not not_found (nodes: an error against [null]), and anyone
// holding an id (an application's, a connection's, a person's usr_ id from a team list, a
// license code's) learnt without signing in whether it still exists, which the signed-in
// answer (not_found for both) takes care not to tell.
func TestSignedOutNodeTellsNoExistence(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		customer := e.person("node-customer@example.com", "Casey", true)
		tn := e.tenant("Nodes", customer)
		anon := e.anonymous()
		for _, c := range []struct{ real, missing string }{
			{tn.app, missingApp}, {tn.conn, missingConn}, {tn.source, missingSource}, {tn.variant, missingVar},
			{tn.code, missingCode}, {customer.user.ID, "usr_aaaaaaaaaaaaaaaaaaaaaaaa"},
		} {
			for _, q := range []string{`query($x: ID!) { node(id: $x) { id } }`, `query($x: ID!) { nodes(ids: [$x]) { id } }`} {
				real := anon.gql(q, map[string]any{"x": c.real})
				missing := anon.gql(q, map[string]any{"x": c.missing})
				rj, _ := json.Marshal(real)
				mj, _ := json.Marshal(missing)
				if real.code() != "unauthorized" || string(rj) != string(mj) {
					t.Errorf("signed out, %s\n  with %s: %s\n  with %s: %s\nwant the same unauthorized answer", q, c.real, rj, c.missing, mj)
				}
			}
		}
	})
}

// Fields whose resolver runs its own query are priced as such (graph's resolverCost, 20
// points), aliases included; the person's own lists and an application's webhook and logout
// URLs and quickstart cost 1 point. 1,500 aliased viewer.pendingLinks (under the token limit)
// cost 3,000 points and ran 1,500 queries in 1.4 to 1.9 s; webhookUrl 3,000 times (each a
// team check) ran 1.3 to 2 s; one person could send 66 such operations a minute.
func TestFieldsThatQueryArePricedAsQueries(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("priced-dev@example.com", "Dev", true)
		app := dev.createApp("Priced", true)
		for _, c := range []struct{ parent, field string }{
			{"viewer", "sessions { id }"}, {"viewer", "pendingLinks { id }"}, {"viewer", "passkeys { id }"},
			{"viewer", "twoStep { enabled }"}, {"viewer", "profile { name }"}, {"viewer", "language"},
			{`application(id: "` + app + `")`, "webhookUrl"}, {`application(id: "` + app + `")`, "backchannelLogoutUri"},
			{`application(id: "` + app + `")`, "quickstart { issuer }"},
		} {
			if g := dev.gql("{ "+c.parent+" { "+c.field+" } }", nil); len(g.Errors) > 0 {
				t.Errorf("%s { %s } once: %+v", c.parent, c.field, g.Errors)
			}
			var b strings.Builder
			for i := range 1200 {
				fmt.Fprintf(&b, " a%d: %s", i, c.field)
			}
			if g := dev.gql("{ "+c.parent+" {"+b.String()+" } }", nil); g.code() != "COMPLEXITY_LIMIT_EXCEEDED" {
				t.Errorf("%s { %s } 1,200 times: code %q, want COMPLEXITY_LIMIT_EXCEEDED", c.parent, c.field, g.code())
			}
		}
	})
}
