package oauth_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"loginsign/internal/oauth"
)

// TestBasicCredentialsMustBeText: Basic credentials whose client_id or client_secret decodes
// to invalid UTF-8 or a NUL (raw or percent-encoded) are invalid_client, 401 (RFC 6749 §5.2:
// the client authenticated through the header), before anything looks them up. PostgreSQL
// answered them with an error, a 500.
func TestBasicCredentialsMustBeText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, userPass string }{
		{"NUL in the client_id", "app_\x00:x"},
		{"invalid UTF-8 in the client_id", "app_\xff\xfe:x"},
		{"percent-encoded NUL in the client_id", "app_%00:x"},
		{"percent-encoded overlong NUL in the client_id", "app_%C0%80:x"},
		{"NUL in the client_secret", "app_x:lss_\x00"},
		{"percent-encoded invalid UTF-8 in the client_secret", "app_x:lss_%FF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			header := "Basic " + base64.StdEncoding.EncodeToString([]byte(tt.userPass))
			_, basic, err := oauth.ParseBasic(header)
			if e := oauth.AsError(err); !basic || err == nil || e.Code != oauth.InvalidClient || e.Status != http.StatusUnauthorized {
				t.Fatalf("ParseBasic: basic=%v err=%v, want invalid_client 401", basic, err)
			}
			_, err = oauth.ClientFromRequest([]string{header}, url.Values{"grant_type": {"client_credentials"}})
			if e := oauth.AsError(err); err == nil || e.Code != oauth.InvalidClient || e.Status != http.StatusUnauthorized {
				t.Fatalf("ClientFromRequest: err=%v, want invalid_client 401", err)
			}
		})
	}
}
