package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"loginsign/internal/server/servertest"
)

// The npm tooling of the third-party clients lives in servertest (testdata/tooling at the
// repository root, npm ci once, node with a deadline).
var (
	toolingDir  = servertest.ToolingDir()
	nodeTooling = servertest.Node
	runNode     = servertest.RunNode
)

// graphql-http's server audit (GraphQL over HTTP) passes against the real /graphql with no
// MUST failure and no SHOULD warning: request errors are 200 with errors for
// application/json and 400 without a data entry for application/graphql-response+json.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		out := runNode(t, nil, "graphql-audit.mjs", e.base+"/graphql")
		var n int
		counts := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var r struct{ ID, Name, Status, Reason string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("audit output %q: %v", sc.Text(), err)
			}
			n++
			counts[r.Status]++
			if level, _, ok := strings.Cut(r.Name, " "); ok && r.Status == "ok" {
				counts["ok "+level]++
			}
			if r.Status != "ok" {
				t.Errorf("%s %s: %s: %s", r.ID, r.Status, r.Name, r.Reason)
			}
		}
		if n < 30 {
			t.Fatalf("the audit ran %d checks, want graphql-http's full list:\n%s", n, out)
		}
		t.Logf("graphql-http audit: %d checks: %d ok (MUST %d, SHOULD %d, MAY %d), %d notice, %d warn (SHOULD), %d error (MUST)",
			n, counts["ok"], counts["ok MUST"], counts["ok SHOULD"], counts["ok MAY"], counts["notice"], counts["warn"], counts["error"])
	})
}
