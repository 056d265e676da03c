package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestATransferDoesNotTakeTheNewOwnerPastTheirLicenseCodes (checks12, team review): the
// license codes of an owner's applications are bounded together
// (LOGINSIGN_MAX_LICENSE_CODES_PER_DEVELOPER), counted where codes are written. Accepting an
// ownership transfer moved an application's codes to the new owner unchecked: one developer
// filled an application to the total, handed it to a second account of theirs and filled the
// next, so two free accounts held up to 100 totals. Through REST and GraphQL, accepting a
// transfer that would take the new owner past the total is refused (invalid_request) and
// changes nothing; once they delete codes of their own, it goes through.
func TestATransferDoesNotTakeTheNewOwnerPastTheirLicenseCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		e.srv.licenses.MaxCodes = 5
		filler := e.person("filler@example.com", "Filler", true)
		full := filler.createApp("Full", false)
		heir := e.person("heir@example.com", "Heir", true)
		own := heir.createApp("Own", false)
		generate := func(who *person, app string, n int) {
			v := who.json("POST", "/api/developer/applications/"+app+"/licenses/variants", map[string]any{"name": "Pro"}, http.StatusCreated)
			who.json("POST", "/api/developer/applications/"+app+"/licenses/codes/generate", map[string]any{"variantId": v["id"], "count": n}, http.StatusCreated)
		}
		generate(filler, full, 3)
		generate(heir, own, 3)
		e.join(filler, full, heir, "admin")
		base := "/api/developer/applications/" + full
		filler.json("POST", base+"/transfer", map[string]any{"userId": heir.user.ID}, http.StatusOK)

		if status, body := heir.do("POST", base+"/transfer/accept", nil); status != http.StatusBadRequest || !strings.Contains(string(body), `"invalid_request"`) {
			t.Errorf("REST: accepting 3 codes while owning 3 (total 5) = %d %s, want 400 invalid_request", status, body)
		}
		g := heir.gql(`mutation($a: ID!) { acceptOwnershipTransfer(input: {applicationId: $a}) { application { id } } }`, map[string]any{"a": full})
		if g.code() != "invalid_request" {
			t.Errorf("GraphQL: accepting past the total: %+v %+v, want invalid_request", g.Data, g.Errors)
		}
		app, err := e.srv.db.Application.Get(context.Background(), full)
		if err != nil {
			t.Fatal(err)
		}
		if app.OwnerID != filler.user.ID || app.TransferTo == nil {
			t.Fatalf("the refused transfer changed the application: owner %s, transfer %v", app.OwnerID, app.TransferTo)
		}

		codes := heir.json("GET", "/api/developer/applications/"+own+"/licenses/codes", nil, http.StatusOK)["codes"].([]any)
		heir.json("DELETE", "/api/developer/applications/"+own+"/licenses/codes/"+codes[0].(map[string]any)["id"].(string), nil, http.StatusOK)
		if v := heir.json("POST", base+"/transfer/accept", nil, http.StatusOK); v["role"] != "owner" {
			t.Fatalf("accepting once the new owner made room: %v", v)
		}
	})
}
