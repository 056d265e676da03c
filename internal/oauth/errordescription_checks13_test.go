package oauth_test

import (
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// allowedInDescription reports whether every byte of s is one RFC 6749 §4.1.2.1 and §5.2 allow
// in error_description: %x20-21 / %x23-5B / %x5D-7E.
func allowedInDescription(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}

// TestErrorDescriptionsHoldOnlyTheCharactersTheRFCAllows: a description that quotes what the
// request sent (a scope, a prompt, a client_id with quotation marks, backslashes, letters
// outside ASCII, cut short with an ellipsis) still holds only %x20-21 / %x23-5B / %x5D-7E,
// which strict clients check and which the WWW-Authenticate header's quoted string needs.
// Before, "unknown scope \"caf\u00e9\\\"\u2026\"" went out as it was.
func TestErrorDescriptionsHoldOnlyTheCharactersTheRFCAllows(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, _ := e.client(t, cb)
		for _, tt := range []struct{ name, param, value string }{
			{"scope", "scope", `openid café"\` + strings.Repeat("x", 60)},
			{"prompt", "prompt", `ask"me\now é`},
			{"client_id", "client_id", `app_"\é` + strings.Repeat("y", 80)},
		} {
			q := authzQuery(app.ID, cb, "", tt.param, tt.value)
			_, _, err := e.svc.Authorize(e.ctx(), q)
			oe := oauth.AsError(err)
			if oe.Code == oauth.ServerError || oe.Description == "" {
				t.Fatalf("%s: Authorize answered %v, want a request error", tt.name, err)
			}
			if !allowedInDescription(oe.Description) {
				t.Errorf("%s: error_description %q holds characters outside RFC 6749's set", tt.name, oe.Description)
			}
		}
	})
}
