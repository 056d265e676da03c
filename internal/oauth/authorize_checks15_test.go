package oauth

import (
	"net/url"
	"strings"
	"testing"
)

// TestAnAuthorizationErrorAboutResponseTypeKeepsTheState: every error answered to the client
// carries the request's state (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6: REQUIRED when
// the request had one), and so an error about response_type (repeated, overlong, text no store
// takes). response_type was read before state, so its errors went back without it, and a
// relying party that checks state first (npm openid-client, oauth4webapi) refused the answer
// as a state mismatch instead of reporting the error.
func TestAnAuthorizationErrorAboutResponseTypeKeepsTheState(t *testing.T) {
	t.Parallel()
	s := &Service{Config: Config{Issuer: "https://id.example"}}
	for _, tt := range []struct {
		name   string
		change func(url.Values)
	}{
		{"repeated response_type", func(q url.Values) { q.Add("response_type", "code") }},
		{"overlong response_type", func(q url.Values) { q.Set("response_type", strings.Repeat("c", 65)) }},
		{"response_type with a NUL", func(q url.Values) { q.Set("response_type", "co\x00de") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"code"},
				"state": {"st-123"}, "response_mode": {"form_post"}}
			tt.change(q)
			req, err := ParseAuthorizeRequest(q)
			e := AsError(err)
			if err == nil || e.Code != InvalidRequest || !e.Redirect {
				t.Fatalf("err = %v, want a redirected invalid_request", err)
			}
			a := s.ErrorResponse(req, e)
			if got := a.Params.Get("state"); got != "st-123" {
				t.Fatalf("state of the error answer = %q, want st-123 (params %v)", got, a.Params)
			}
			if !a.FormPost() || a.Params.Get("iss") != "https://id.example" {
				t.Fatalf("answer mode %q iss %q, want form_post with iss", a.Mode, a.Params.Get("iss"))
			}
		})
	}
}
