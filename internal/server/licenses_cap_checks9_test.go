package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"loginsign/ent/licensecode"
	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// A person whose connection holds licenses.MaxPerConnection licenses redeems no more, over REST
// with their session (409) or from the dashboard through GraphQL (in their language):
// too_many_licenses, and the code stays unused.
func TestRedeemingPastTheLicensesAConnectionHoldsIsRefusedOnEveryTransport(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			_, codes := e.devCodes(e.dev, e.app, licenses.MaxPerConnection+1)
			ann := e.person("ann@example.com", "Ann")
			conn := e.connect(ann, e.app, e.now)
			for _, c := range codes[:licenses.MaxPerConnection] {
				key, _ := licenses.CodeKey(c)
				e.s.db.LicenseCode.Update().Where(licensecode.CodeKey(key)).
					SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(e.now).ExecX(ctx)
			}
			spare := codes[licenses.MaxPerConnection]
			annC := e.cookie(ann)

			st, _, body := e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": spare, "client_id": e.app.ID}, nil, annC)
			if st != 409 || errorName(t, body) != "too_many_licenses" {
				t.Errorf("redeeming past the bound over REST = %d %s, want 409 too_many_licenses", st, body)
			}
			st, _, body = e.call("POST", "/graphql", map[string]any{"query": fmt.Sprintf(`mutation { redeemLicenseCode(applicationId: %q, code: %q) { code } }`, e.app.ID, spare)},
				map[string]string{"Accept-Language": "fr"}, annC)
			if st != 200 || !strings.Contains(body, `"extensions":{"code":"too_many_licenses"}`) || !strings.Contains(body, "ce compte détient déjà 100 licences") {
				t.Errorf("redeeming past the bound from the dashboard (GraphQL, in French) = %d %s, want too_many_licenses", st, body)
			}
			key, _ := licenses.CodeKey(spare)
			if c := e.s.db.LicenseCode.Query().Where(licensecode.CodeKey(key)).OnlyX(ctx); c.State != licensecode.StateUNUSED || c.LinkedConnectionID != nil {
				t.Errorf("the refused code is %s linked to %v, want UNUSED and unlinked", c.State, c.LinkedConnectionID)
			}
		})
	}
}
