package oauth_test

import (
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// A code_challenge is BASE64URL(SHA256(code_verifier)) without padding (RFC 7636 §4.2): 43
// characters, the last of which carries two bits no hash has. A challenge with them set
// decodes to the same 32 bytes but is the encoding of no hash, so no code_verifier ever
// matches it: taken at the authorization endpoint, the person signed in and consented for a
// code the client could never redeem, and the client learnt of its mistake only at the token
// endpoint. It is refused where it is sent, as invalid_request back to the client.
func TestACodeChallengeThatNoHashEncodesToIsRefusedWhenTheRequestIsMade(t *testing.T) {
	t.Parallel()
	good := oauth.S256(strings.Repeat("v", 43))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[42])
	if last%4 != 0 {
		t.Fatalf("S256 ends in %q, whose low bits are set", good[42])
	}
	query := func(challenge string) url.Values {
		return url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://rp.example/cb"}, "response_type": {"code"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	}
	if _, err := oauth.ParseAuthorizeRequest(query(good)); err != nil {
		t.Fatalf("the challenge of a verifier: %v", err)
	}
	for bits := 1; bits < 4; bits++ {
		bad := good[:42] + string(alphabet[last+bits])
		_, err := oauth.ParseAuthorizeRequest(query(bad))
		if e := oauth.AsError(err); err == nil || e.Code != oauth.InvalidRequest || !e.Redirect {
			t.Errorf("code_challenge %q (its last character's unused bits set): %v; want invalid_request redirected to the client", bad, err)
		}
	}
}
