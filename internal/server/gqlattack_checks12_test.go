package server

import (
	"encoding/json"
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
