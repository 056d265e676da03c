package server

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"loginsign/internal/store/storetest"
)

// TestPasskeyMessagesLanguage: on the login page, what passkey.js writes (here: no passkey
// chosen, the authenticator holding none) is in the page's language, through the script
// messages the page embeds (LS.t). Real Chromium with a virtual authenticator; SQLite and
// PostgreSQL.
func TestPasskeyMessagesLanguage(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ls := startLiveServerNamed(t, dbURL, "localhost")
			b := newChrome(t)
			b.shots = t.TempDir()
			for lang, want := range map[string]string{
				"en": "No passkey was chosen.",
				"fr": "Aucune clé d’accès n’a été choisie.",
				"de": "Es wurde kein Passkey ausgewählt.",
			} {
				tb := b.tab("passkey-" + lang)
				acceptLanguage(t, tb, lang)
				tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
					if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
						return chromedp.Void{}, err
					}
					_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
						Options: &webauthn.VirtualAuthenticatorOptions{
							Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
							HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
						}})
					return chromedp.Void{}, err
				})
				tb.open(t, ls.URL+"/login", "#passkey-form")
				tb.waitFor(t, `!document.querySelector('#passkey-form').hidden`)
				tb.do(t, chromedp.Click(`#passkey-form button`))
				tb.waitFor(t, `!document.querySelector('#passkey-error').hidden`)
				if got := evalIn[string](t, tb, `document.querySelector('#passkey-error').textContent`); got != want {
					t.Errorf("%s: passkey error %q, want %q", lang, got, want)
				}
			}
		})
	}
}
