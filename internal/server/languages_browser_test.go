package server

import (
	"context"
	"encoding/json"
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
	"loginsign/internal/store/storetest"
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

// In Chromium, on SQLite and PostgreSQL: a signed-in person whose browser asks for English
// switches the dashboard to French, then German. Each time the whole dashboard (the page and
// what its scripts write) is in that language, and then the setting, without ui_locales or
// Accept-Language naming it, drives the login and consent pages. Each page is photographed and
// checked with axe-core. Back to Automatic, the dashboard follows the browser again.
func TestDashboardLanguageInBrowser(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ls := startLiveServer(t, dbURL)
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
			authorize := ls.URL + "/oauth/authorize?" + url.Values{"client_id": {created.Application.ID}, "redirect_uri": {redirect},
				"response_type": {"code"}, "scope": {"openid email profile"}, "state": {"s"}, "code_challenge_method": {"S256"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}}.Encode()

			tb := b.tab("person-" + name)
			acceptLanguage(t, tb, "en-US,en;q=0.9")
			ls.signInByCookie(t, tb, ann.ID)
			tb.open(t, ls.URL+"/dashboard", "[data-slot=apps] p.empty, [data-slot=apps] ul")
			tb.waitFor(t, `document.querySelector("[data-slot=apps]").textContent.includes("You haven't signed in to any app")`)
			if got := evalIn[string](t, tb, `document.documentElement.lang`); got != "en" {
				t.Fatalf("dashboard lang %q", got)
			}

			for _, c := range []struct {
				lang, option                         string
				h1, noApps, twoStep, sessions, label string
				submit, allow                        string
			}{
				{"fr", "fr", "Bonjour, Ann Example", "Vous ne vous êtes encore connecté à aucune application", "Désactivée.", "ce navigateur", "Langue",
					"M’envoyer un lien de connexion", "Autoriser"},
				{"de", "de", "Hallo, Ann Example", "Sie haben sich noch bei keiner App mit LoginSign angemeldet", "Aus.", "dieser Browser", "Sprache",
					"Anmeldelink per E-Mail senden", "Erlauben"},
			} {
				t.Run(c.lang, func(t *testing.T) {
					// Sessions are written by dashboard.js: its handlers are in place.
					tb.open(t, ls.URL+"/dashboard", "[data-slot=sessions] li")
					evalIn[bool](t, tb, `(() => { document.getElementById("language-select").value = "`+c.option+`"; return true; })()`)
					tb.do(t, chromedp.Click("#language-save"))
					tb.waitFor(t, `document.documentElement.lang === "`+c.lang+`" && document.readyState === "complete"`)
					// What the scripts write: the apps, two-step and sessions cards.
					tb.waitFor(t, `document.querySelector("[data-slot=apps]").textContent.includes(`+jsString(c.noApps)+`)`)
					tb.waitFor(t, `document.querySelector("[data-slot=two-step]").textContent.includes(`+jsString(c.twoStep)+`)`)
					tb.waitFor(t, `document.querySelector("[data-slot=sessions]").textContent.includes(`+jsString(c.sessions)+`)`)
					if got := tb.text(t, "h1"); got != c.h1 {
						t.Errorf("h1 %q, want %q", got, c.h1)
					}
					if got := tb.text(t, `label[for=language-select]`); got != c.label {
						t.Errorf("language label %q", got)
					}
					body := tb.text(t, "body")
					for _, english := range []string{"Connected apps", "Your profile", "Loading", "Sign out everywhere else", "Two-step verification", "this browser", "Delete your account", "Off. Turn it on"} {
						if strings.Contains(body, english) {
							t.Errorf("%s dashboard still shows %q", c.lang, english)
						}
					}
					tb.shot(t, "dashboard-"+c.lang)

					// The setting, not the browser's English, chooses the sign-in pages.
					tb.open(t, ls.URL+"/login", "input[type=email]")
					if got := evalIn[string](t, tb, `document.documentElement.lang`); got != c.lang {
						t.Errorf("login page lang %q", got)
					}
					if got := tb.text(t, "button[type=submit]"); got != c.submit {
						t.Errorf("login button %q, want %q", got, c.submit)
					}
					tb.shot(t, "login-"+c.lang+"-setting")
					tb.open(t, authorize, "input[type=radio]")
					if got := tb.text(t, `button[value=allow]`); got != c.allow {
						t.Errorf("allow button %q, want %q", got, c.allow)
					}
					tb.shot(t, "consent-"+c.lang+"-setting")
				})
			}

			// Automatic: the browser's English again.
			// Sessions are written by dashboard.js: its handlers are in place.
			tb.open(t, ls.URL+"/dashboard", "[data-slot=sessions] li")
			evalIn[bool](t, tb, `(() => { document.getElementById("language-select").value = ""; return true; })()`)
			tb.do(t, chromedp.Click("#language-save"))
			tb.waitFor(t, `document.documentElement.lang === "en" && document.readyState === "complete"`)
			tb.waitFor(t, `document.querySelector("[data-slot=apps]").textContent.includes("You haven't signed in to any app")`)
		})
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
