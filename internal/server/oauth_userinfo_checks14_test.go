package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAnUnreadableUserInfoFormGetsTheBearerChallenge: POST /api/user (OpenID Connect Core
// §5.3.1) with a form body that cannot be read (malformed encoding, over its 4 KiB limit)
// carries no usable access token, so the answer, 400 invalid_request, includes
// WWW-Authenticate: Bearer with the error (RFC 6750 §3, §3.1), as the route's other
// invalid_request answers do. Before, it had no challenge at all.
func TestAnUnreadableUserInfoFormGetsTheBearerChallenge(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, body := range []string{"access_token=%zz", "access_token=" + strings.Repeat("a", 5000), "x=" + strings.Repeat("a", 5000)} {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/api/user", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), `"error":"invalid_request"`) {
			t.Fatalf("body of %d bytes: %d %s, want 400 invalid_request", len(body), resp.StatusCode, raw)
		}
		if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="loginsign", error="invalid_request"`) {
			t.Errorf("body of %d bytes: WWW-Authenticate %q, want the Bearer challenge with error=\"invalid_request\"", len(body), ch)
		}
	}
}
