package server

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/mfa"
)

// A silent authorization (prompt=none) from an application the visitor never consented to
// answers consent_required before it looks at their session: asking for two factors
// (acr_values) or a recent sign-in (max_age) no longer tells a stranger app whether its
// visitor has a passkey to step up to, or how old their sign-in is.
func TestASilentAuthorizationTellsAStrangerAppNothingOfTheSession(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		withKey, without := e.browser(), e.browser()
		withKey.signInTo("key@example.com")
		without.signInTo("nokey@example.com")
		e.addSoftKey(t, e.userByEmail("key@example.com").ID)
		stranger := e.createApp("Stranger App", "https://stranger.example.test/cb")
		conf := e.config(stranger, "https://stranger.example.test/cb")
		for _, ask := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA), oauth2.SetAuthURLParam("max_age", "0")} {
			for name, b := range map[string]*browser{"a person with a passkey": withKey, "a person without": without} {
				p := b.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none"), ask))
				loc, err := url.Parse(p.Header.Get("Location"))
				if err != nil || loc.Query().Get("error") != "consent_required" {
					t.Errorf("prompt=none from an app %s never consented to, %v: %d %s, want consent_required", name, ask, p.StatusCode, p.Header.Get("Location"))
				}
			}
		}
	})
}
