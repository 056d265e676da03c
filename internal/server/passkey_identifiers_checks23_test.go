package server

import (
	"context"
	"net/url"
	"testing"
)

// TestAPasskeySignInGivesTheAppTheSameIdentifiersAsAMagicLink: whichever way the person signs
// in, an application sees one person: the id_token's sub, and the connection id, Global User
// ID and address of /api/user, are the same after a passkey sign-in as after a magic link.
func TestAPasskeySignInGivesTheAppTheSameIdentifiersAsAMagicLink(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		u, _, err := e.srv.identity.EnsureUser(context.Background(), defaultTestEmail)
		if err != nil {
			t.Fatal(err)
		}
		code, verifier := e.authorizeCode(e.browser(), defaultTestEmail)
		st, byLink, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
		if st != 200 {
			t.Fatalf("exchange after the magic link: %d %v", st, byLink)
		}
		byPasskey := e.passkeyTokens(t, e.browser(), e.addSoftKey(t, u.ID))
		if a, b := idTokenClaims(t, byLink["id_token"])["sub"], idTokenClaims(t, byPasskey["id_token"])["sub"]; a == nil || a != b {
			t.Errorf("id_token sub: %v after the magic link, %v after the passkey; want one", a, b)
		}
		_, linkUser, _ := e.apiUser(byLink["access_token"].(string))
		_, passkeyUser, _ := e.apiUser(byPasskey["access_token"].(string))
		for _, k := range []string{"id", "globalId", "email"} {
			if linkUser[k] == nil || linkUser[k] != passkeyUser[k] {
				t.Errorf("/api/user %s: %v after the magic link, %v after the passkey; want one", k, linkUser[k], passkeyUser[k])
			}
		}
	})
}
