package server

import (
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

// TestThePersonsLicenseRoutesNeverPickOneOfTwoApplications: GET subscriptions and POST redeem
// took the application from ?client_id=, else ?applicationId= (redeem: the body's client_id
// or applicationId over both), keeping the first of a repeated parameter and ignoring the
// others. A request naming two applications was answered for whichever came first in that
// order; it is 400 now, while two names of the same application stay fine.
func TestThePersonsLicenseRoutesNeverPickOneOfTwoApplications(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{PerHolder: ratelimit.Rule{N: 8}})
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			annC := e.cookie(ann)
			subs := "/api/user/licenses/subscriptions"
			if code, _, body := e.call("GET", subs+"?client_id="+e.app.ID+"&applicationId="+e.app.ID, nil, nil, annC); code != 200 {
				t.Fatalf("both names of one application = %d %s", code, body)
			}
			for _, q := range []string{
				"?client_id=" + e.app.ID + "&applicationId=" + e.rivalApp.ID,
				"?client_id=" + e.app.ID + "&client_id=" + e.rivalApp.ID,
			} {
				if code, _, body := e.call("GET", subs+q, nil, nil, annC); code != 400 || !strings.Contains(body, "invalid_request") {
					t.Errorf("GET subscriptions%s = %d %s, want 400 invalid_request", q, code, body)
				}
			}
			code, _, body := e.call("POST", "/api/user/licenses/redeem?client_id="+e.rivalApp.ID,
				map[string]any{"code": "NOPE-NOPE", "client_id": e.app.ID}, nil, annC)
			if code != 400 || !strings.Contains(body, "invalid_request") {
				t.Errorf("redeem naming two applications = %d %s, want 400 invalid_request", code, body)
			}
		})
	}
}
