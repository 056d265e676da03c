package server

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// acceptLanguage makes tb send Accept-Language: lang, as a browser set to that language.
func acceptLanguage(t *testing.T, tb *tab, lang string) {
	t.Helper()
	tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang}})
		return chromedp.Void{}, err
	})
}

// In Chromium: a browser set to French sees the login and consent pages in French; the same
// browser signing in to an app that asks for German (ui_locales=de) sees them in German. Each
// page is photographed and checked with axe-core (lang-*, html-has-lang).
func TestPagesLanguageInBrowser(t *testing.T) {
	ls := startLiveServer(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"))
	b := newChrome(t)
	defer b.report()
	ctx := context.Background()
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	ann, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "https://notes.example.com/cb"
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID}),
		portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{redirect}, Website: "https://notes.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(ui string) string {
		q := url.Values{"client_id": {created.Application.ID}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid email profile"}, "state": {"s"}, "code_challenge_method": {"S256"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}}
		if ui != "" {
			q.Set("ui_locales", ui)
		}
		return ls.URL + "/oauth/authorize?" + q.Encode()
	}

	for _, c := range []struct {
		lang, ui          string
		loginURL          string
		submit, allow, of string
	}{
		{"fr", "", ls.URL + "/login", "M’envoyer un lien de connexion", "Autoriser", "Connecté en tant que ann@example.com."},
		{"de", "de", ls.URL + "/login?ui_locales=de", "Anmeldelink per E-Mail senden", "Erlauben", "Angemeldet als ann@example.com."},
	} {
		t.Run(c.lang, func(t *testing.T) {
			tb := b.tab("person-" + c.lang)
			acceptLanguage(t, tb, "fr-FR,fr;q=0.9,en;q=0.5")
			tb.open(t, c.loginURL, "input[type=email]")
			if got := evalIn[string](t, tb, `document.documentElement.lang + " " + document.documentElement.dir`); got != c.lang+" ltr" {
				t.Errorf("login page: lang dir = %q", got)
			}
			if got := tb.text(t, "button[type=submit]"); got != c.submit {
				t.Errorf("login button %q, want %q", got, c.submit)
			}
			tb.shot(t, "login-"+c.lang)

			ls.signInByCookie(t, tb, ann.ID)
			tb.open(t, authorize(c.ui), "input[type=radio]")
			if got := evalIn[string](t, tb, `document.documentElement.lang + " " + document.documentElement.dir`); got != c.lang+" ltr" {
				t.Errorf("consent page: lang dir = %q", got)
			}
			if got := tb.text(t, `button[value=allow]`); got != c.allow {
				t.Errorf("allow button %q, want %q", got, c.allow)
			}
			if got := tb.text(t, "main"); !strings.Contains(got, c.of) {
				t.Errorf("consent page text:\n%s", got)
			}
			tb.shot(t, "consent-"+c.lang)
		})
	}
}
