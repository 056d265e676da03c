package server

import (
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestAppRoutesAnswerAWrongMethodInTheirErrorShape: the app-backend routes answer every error
// as {"error","error_description"} (openapi.yaml, OAuthError), as /oauth/ and /api/user do
// for a wrong method; a wrong method on them answered the portal's {"error","message"}, which
// a backend's client reading error_description did not understand.
func TestAppRoutesAnswerAWrongMethodInTheirErrorShape(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
	users := "/api/applications/" + e.app.ID + "/users"
	status := users + "/AB1234/status"
	for _, tt := range []struct{ method, path, allow, want string }{
		{"POST", users, "GET, HEAD", `{"error":"method_not_allowed","error_description":"method POST not allowed; use GET, HEAD"}`},
		{"DELETE", users, "GET, HEAD", `{"error":"method_not_allowed","error_description":"method DELETE not allowed; use GET, HEAD"}`},
		{"GET", status, "PATCH", `{"error":"method_not_allowed","error_description":"method GET not allowed; use PATCH"}`},
		{"PUT", status, "PATCH", `{"error":"method_not_allowed","error_description":"method PUT not allowed; use PATCH"}`},
	} {
		code, hdr, body := e.call(tt.method, tt.path, nil, h, nil)
		if code != 405 || body != tt.want || hdr.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d %s (Allow %q), want 405 %s", tt.method, tt.path, code, body, hdr.Get("Allow"), tt.want)
		}
	}
	// The routes' own methods still answer.
	if code, _, body := e.call("GET", users, nil, h, nil); code != 200 {
		t.Errorf("GET users = %d %s", code, body)
	}
	if code, _, body := e.call("PATCH", status, map[string]any{"revoke": true}, h, nil); code != 404 {
		t.Errorf("PATCH status of an unknown globalId = %d %s", code, body)
	}
}
