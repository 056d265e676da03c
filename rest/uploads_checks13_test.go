package rest_test

import (
	"strings"
	"testing"
)

// TestSignedOutUploadsAreNotRead: a license-code upload from someone signed out answers 401
// before its body is read, whatever it holds; before stop 61 a malformed CSV answered 400, so
// anyone could have LoginSign parse uploads of the route's largest size for nothing.
func TestSignedOutUploadsAreNotRead(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, _, _ := e.client(t)
		up := "/api/developer/applications/" + app.ID + "/licenses/codes/upload?variantId=lv_x"
		for name, body := range map[string]string{
			"malformed CSV": "code\n\"ABC\n",
			"many rows":     "code\n" + strings.Repeat("ABCDEFGH\n", 5000),
		} {
			if a := e.do(t, "POST", up, "text/csv", body, nil, nil); a.status != 401 || a.body["error"] != "unauthorized" {
				t.Errorf("%s, signed out: %d %v, want 401 unauthorized", name, a.status, a.body)
			}
		}
	})
}
