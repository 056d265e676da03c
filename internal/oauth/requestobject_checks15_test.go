package oauth

import (
	"net/url"
	"testing"
)

// TestEmptyRequestObjectParametersAreOmitted: RFC 6749 §3.1, "parameters sent without a value
// MUST be treated as if they were omitted from the request". An empty request or request_uri
// (a client's form that always carries the field) was answered request_not_supported /
// request_uri_not_supported, failing a request that names no request object.
func TestEmptyRequestObjectParametersAreOmitted(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"request", "request_uri"} {
		t.Run(name, func(t *testing.T) {
			q := url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"code"},
				name: {""}}
			if _, err := ParseAuthorizeRequest(q); err != nil {
				t.Fatalf("an empty %s: %v, want the request taken", name, err)
			}
		})
	}
	// A value still names a request object, which is not supported.
	q := url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"code"},
		"request": {"eyJ"}}
	if _, err := ParseAuthorizeRequest(q); AsError(err).Code != RequestNotSupported {
		t.Fatalf("a request object: %v, want request_not_supported", err)
	}
}
