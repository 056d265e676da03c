package server

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/mfa"
)

// TestPasskeySignInHTTP signs in with a (software) passkey over plain HTTP and checks the
// refusals: a garbled or oversized response, an unknown credential, a replayed challenge, and
// a signature from another key all answer 4xx and sign nobody in. It also checks acr_values:
// a one-factor session of a person with a passkey must sign in again for urn:loginsign:acr:mfa.
func TestPasskeySignInHTTP(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		ctx := context.Background()
		u, _, err := e.srv.identity.EnsureUser(ctx, defaultTestEmail)
		if err != nil {
			t.Fatal(err)
		}
		sk := e.addSoftKey(t, u.ID)
		body := e.passkeyTokens(t, e.browser(), sk)
		if body["id_token"] == nil {
			t.Fatalf("no id_token: %v", body)
		}
		b := e.browser()
		b.get(e.base + "/login")
		options := func() string {
			p := b.get(e.base + "/login/passkey")
			if p.StatusCode != 200 || !strings.Contains(p.Body, `"userVerification":"required"`) {
				t.Fatalf("options: %d %s", p.StatusCode, p.Body)
			}
			return p.Body
		}
		post := func(cred string) int {
			return b.post(e.base+"/login/passkey", url.Values{"credential": {cred}}).StatusCode
		}
		if st := post("{not json"); st != 400 {
			t.Errorf("garbled response: %d", st)
		}
		if st := post(strings.Repeat("a", 70<<10)); st != 400 {
			t.Errorf("oversized response: %d", st)
		}
		good := sk.assert(t, options())
		other := e.addSoftKey(t, u.ID)
		forged := *other
		forged.id = sk.id // sk's credential id, other's key: the signature does not verify
		if st := post(forged.assert(t, options())); st != 401 {
			t.Errorf("a signature by another key: %d", st)
		}
		stranger := &softKey{id: []byte("unknown-credential"), user: u.ID, key: other.key, rpID: other.rpID, origin: other.origin}
		if st := post(stranger.assert(t, options())); st != 401 {
			t.Errorf("an unknown credential: %d", st)
		}
		wrongOrigin := *sk
		wrongOrigin.origin = "https://evil.example"
		if st := post(wrongOrigin.assert(t, options())); st != 401 {
			t.Errorf("another origin: %d", st)
		}
		if data, _ := b.graphql(`{ viewer { id } }`, nil); data != nil && data["viewer"] != nil {
			t.Fatal("a refused passkey signed in")
		}
		if p := b.post(e.base+"/login/passkey", url.Values{"credential": {good}}); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("the right assertion: %d at %s", p.StatusCode, p.Request.URL)
		}
		if st := post(good); st != 410 {
			t.Errorf("a replayed challenge: %d", st)
		}

		// acr_values: a magic-link session of a person who has a passkey is one factor; asking
		// for mfa sends them back to sign in within the flow, and prompt=none says login_required.
		mb := e.browser()
		mb.signIn(mb.get(e.base+"/login"), defaultTestEmail)
		conf := e.config(e.app, rpCallback)
		p := mb.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA)))
		if p.Request.URL.Path != "/login" {
			t.Fatalf("acr_values=mfa from a one-factor session went to %s", p.Request.URL)
		}
		q := callback(t, mb.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA), oauth2.SetAuthURLParam("prompt", "none"))))
		if q.Get("error") != "login_required" {
			t.Fatalf("prompt=none with acr_values=mfa: %v", q)
		}
	})
}
