package server

import (
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestErrorsDoNotEchoALongInputWhole: a 70 KB value the client sent (a redirect URI, an
// allowed origin, an unknown field's name, a path, a method; an invitation's 3,000-character address) is refused with
// an error of at most 1 KB: the error messages show at most apperr.MaxEcho characters of it.
// Before, each error JSON carried the whole value (some twice: the URI, then the parse error
// quoting it again).
func TestErrorsDoNotEchoALongInputWhole(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	dev := map[string]string{"Origin": e.url}
	cookie := e.cookie(e.dev)
	long := strings.Repeat("a", 70000)
	app := "/api/developer/applications/" + e.app.ID
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"a redirect URI", "POST", "/api/developer/applications", map[string]any{"name": "X", "redirectUris": []string{"https://app.example.com/" + long + " x"}}},
		{"an allowed origin", "PATCH", app, map[string]any{"allowedOrigins": []string{"https://" + long + ".example.com/x"}}},
		{"an unknown field", "PATCH", app, `{"` + long + `":1}`},
		{"an invitation's address", "POST", app + "/members/invitations", map[string]any{"email": long[:3000], "role": "developer"}},
		{"a path", "GET", "/api/" + long, nil},
		{"a method", strings.Repeat("M", 60000), app + "/users/export", nil},
	} {
		code, _, body := e.call(tc.method, tc.path, tc.body, dev, cookie)
		if code < 400 || code >= 500 || len(body) > 1000 || !strings.Contains(body, "…") {
			t.Errorf("%s: %d, %d bytes %.200s…, want a 4xx of at most 1,000 bytes with the value shortened", tc.name, code, len(body), body)
		}
	}
}
