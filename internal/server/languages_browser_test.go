package server

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
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
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
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
			created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
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

// In Chromium, on SQLite and PostgreSQL: a developer whose browser asks for English but whose
// setting is French (then German) sees every Developer Portal page in that language: the
// frame (lang, Content-Language, titles, navigation) and what portal.js, charts.js and
// quickstart.js write (cards, tables, charts, the Members card, the invitation page), with no
// English left from a list of checked strings. The overview is photographed as portal-fr and
// portal-de, the application's settings as portal-app-fr and portal-app-de (axe-core checks
// each).
func TestPortalLanguageInBrowser(t *testing.T) {
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
			// Signed in just now: inviting needs a recent sign-in.
			devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
			created, err := ls.portal.CreateApplication(devCtx, portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{"https://notes.example.com/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			appID := created.Application.ID
			ann, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
			if err != nil {
				t.Fatal(err)
			}
			err = ls.db.Tx(ctx, func(tx *ent.Tx) error {
				c, err := connections.Create(ctx, tx, ann.ID, appID, ls.cfg.RelayDomain, time.Now().Add(-48*time.Hour), func(cc *ent.AppConnectionCreate) {
					cc.SetLoginCount(2).SetRegion("DE").SetLastSessionAt(time.Now().Add(-time.Hour))
				})
				if err != nil {
					return err
				}
				return tx.Consent.Create().SetConnectionID(c.ID).SetScopes([]string{"openid", "email"}).Exec(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ls.licenses.CreateVariant(devCtx, appID, licenses.VariantInput{Name: "Pro", Duration: "year"}); err != nil {
				t.Fatal(err)
			}
			if _, err := ls.portal.Team().Invite(devCtx, appID, "sam@example.com", team.Support); err != nil {
				t.Fatal(err)
			}

			tb := b.tab("developer-" + name)
			acceptLanguage(t, tb, "en-US,en;q=0.9")
			ls.signInByCookie(t, tb, dev.ID)
			// Automatic: the browser's English.
			tb.open(t, ls.URL+"/portal?app="+appID, "#headline .stat")
			if got := evalIn[string](t, tb, `document.documentElement.lang`); got != "en" {
				t.Fatalf("portal lang %q with no setting and an English browser", got)
			}

			english := []string{"Overview", "Sign out", "Loading", "Your applications", "connected user", "Sign-ups per day",
				"Active users per day", "Show the numbers", "Credentials", "Save settings", "Redirect URIs", "Members", "Paste one of these",
				"Delete this application", "Your role", "Pending invitations", "Send invitation", "Connected users", "More filters",
				"Export users as CSV", "Last sign-in", "Variants", "Generate codes", "Upload codes", "No codes yet", "Add variant",
				"Test your endpoints", "Webhook deliveries", "Import existing users", "Past imports", "No webhook events yet",
				"Join an application team", "Accept the invitation", "Nothing here yet", "Previous", "Next", "Remove", "Application settings", "Sync & import", "Playground"}
			pages := []struct{ path, ready string }{
				{"/portal?app=" + appID, `document.querySelector("#headline .stat") && document.querySelector("#signups .x-axis span")`},
				{"/portal/apps", `document.querySelector("[data-app]")`},
				{"/portal/apps/" + appID, `document.querySelector("[data-quickstart]") && document.querySelector("[data-member]") && document.querySelector("[data-invitation]")`},
				{"/portal/users?app=" + appID, `document.querySelector("[data-user]")`},
				{"/portal/licenses?app=" + appID, `document.querySelector("[data-variant]") && document.querySelector("[data-slot=codes-table] table")`},
				{"/portal/synchronisation?app=" + appID, `document.querySelector("[data-slot=deliveries] table") && document.querySelector("[data-slot=imports] table")`},
				// A link that no longer works: the page says so, in the person's language, with no Accept.
				{"/portal/invitation?token=x", `document.querySelector("#invitation-closed") && !document.querySelector("#accept-invitation")`},
			}
			for _, c := range []struct{ lang, h1, nav, headline, members string }{
				{"fr", "Portail développeurs", "Vue d’ensemble", "1 utilisateur connecté", "Membres"},
				{"de", "Entwicklerportal", "Übersicht", "1 verbundener Nutzer", "Mitglieder"},
			} {
				t.Run(c.lang, func(t *testing.T) {
					if _, err := ls.profiles.SetLanguage(devCtx, c.lang); err != nil {
						t.Fatal(err)
					}
					for _, p := range pages {
						tb.open(t, ls.URL+p.path, "#view")
						tb.waitFor(t, `document.readyState === "complete" && !document.querySelector("#view > p.empty") && (`+p.ready+`)`)
						if got := evalIn[string](t, tb, `document.documentElement.lang + " " + document.documentElement.dir`); got != c.lang+" ltr" {
							t.Errorf("%s: lang dir = %q", p.path, got)
						}
						body := tb.text(t, "body")
						for _, e := range english {
							if strings.Contains(body, e) {
								t.Errorf("%s %s still shows %q", c.lang, p.path, e)
							}
						}
						switch {
						case strings.HasPrefix(p.path, "/portal?"):
							if got := tb.text(t, "h1"); got != c.h1 {
								t.Errorf("h1 %q, want %q", got, c.h1)
							}
							if got := tb.text(t, `nav a[href="/portal"]`); got != c.nav {
								t.Errorf("nav %q, want %q", got, c.nav)
							}
							if got := evalIn[string](t, tb, `document.querySelector("#headline .headline").innerText.replace(/\s+/g, " ").trim()`); got != c.headline {
								t.Errorf("headline %q, want %q", got, c.headline)
							}
							headers := evalIn[string](t, tb, `(() => { const x = new XMLHttpRequest(); x.open("GET", location.href, false); x.send(); return x.getResponseHeader("Content-Language") + "|" + x.getResponseHeader("Vary"); })()`)
							if !strings.HasPrefix(headers, c.lang+"|") || !strings.Contains(headers, "Accept-Language") {
								t.Errorf("Content-Language|Vary = %q", headers)
							}
							tb.shot(t, "portal-"+c.lang)
						case strings.HasPrefix(p.path, "/portal/apps/"):
							if got := tb.text(t, "#members-h"); got != c.members {
								t.Errorf("members card %q, want %q", got, c.members)
							}
							tb.shot(t, "portal-app-"+c.lang)
						}
					}
				})
			}

			// Back to automatic: English again, the texts the other portal tests look for.
			if _, err := ls.profiles.SetLanguage(devCtx, ""); err != nil {
				t.Fatal(err)
			}
			tb.open(t, ls.URL+"/portal/apps/"+appID, "[data-member]")
			if got := tb.text(t, "#members-h"); got != "Members" {
				t.Errorf("members card %q in English", got)
			}
		})
	}
}
