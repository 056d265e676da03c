package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// langTransport sends Accept-Language with every request, as a browser set to that language.
type langTransport struct{ accept string }

func (l langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if l.accept != "" {
		r.Header.Set("Accept-Language", l.accept)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// wantLang checks a page's <html lang>, dir, Content-Language and that it holds every one of texts.
func wantLang(t *testing.T, p page, lang string, texts ...string) {
	t.Helper()
	if p.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d\n%s", p.Request.URL, p.StatusCode, p.Body)
	}
	if !strings.Contains(p.Body, `<html lang="`+lang+`" dir="ltr">`) || p.Header.Get("Content-Language") != lang {
		t.Errorf("%s: want language %s, got Content-Language %q:\n%s", p.Request.URL, lang, p.Header.Get("Content-Language"), p.Body)
	}
	if !strings.Contains(p.Header.Get("Vary"), "Accept-Language") {
		t.Errorf("%s: Vary %q lacks Accept-Language", p.Request.URL, p.Header.Get("Vary"))
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("%s (%s): no %q in:\n%s", p.Request.URL, lang, s, p.Body)
		}
	}
}

// TestPagesLanguage: the sign-in pages speak the browser's Accept-Language, and the
// authorization's ui_locales (kept with the flow) wins over it on every page of that flow: a
// browser asking for French signs in to an app that asks for German and sees the login,
// "check your email" and consent pages in German; the mailed link's page, outside the flow,
// is in French; without either, English as before. The sign-in mail follows the page that
// sent it.
func TestPagesLanguage(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)

		en := e.browser()
		wantLang(t, en.get(e.base+"/login"), "en", "Email address", "Email me a sign-in link", "<title>Sign in · LoginSign</title>")

		b := e.browser()
		b.Transport = langTransport{"fr-CH, fr;q=0.9, en;q=0.5"}
		wantLang(t, b.get(e.base+"/login"), "fr", "Adresse e-mail", "M’envoyer un lien de connexion", "<title>Connexion · LoginSign</title>")
		// An unsupported ui_locales falls through to Accept-Language.
		wantLang(t, b.get(e.base+"/login?ui_locales=ja"), "fr", "Adresse e-mail")

		u := e.config(e.app, rpCallback).AuthCodeURL("st-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("ui_locales", "de-AT en"))
		login := b.get(u)
		wantLang(t, login, "de", "E-Mail-Adresse", "Anmeldelink per E-Mail senden", "um mit <strong>Demo App</strong> fortzufahren")

		sent := b.post(e.base+"/login", url.Values{"email": {"ann@example.com"}, "flow": {login.hidden(t, "flow")}})
		wantLang(t, sent, "de", "<title>Sehen Sie in Ihr Postfach · LoginSign</title>", "Sie gelten einmal, 15 Minuten lang.", "Neuen Link senden")

		// The sign-in mail speaks the flow's language too.
		m := e.smtp.Next(t, 10*time.Second)
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		if m.Subject != "Mit LoginSign bei Demo App anmelden" || !strings.Contains(text, "Der Link gilt einmal und läuft in 15 Minuten ab, ebenso der Code.") ||
			!strings.Contains(m.HTML, `<html lang="de" dir="ltr">`) || !strings.Contains(m.HTML, ">Anmelden</a>") {
			t.Errorf("sign-in mail %q:\n%s\n%s", m.Subject, text, m.HTML)
		}
		link := linkRe.FindStringSubmatch(text)
		if link == nil {
			t.Fatalf("no link in:\n%s", text)
		}
		confirm := b.get(link[1])
		wantLang(t, confirm, "fr", "Appuyez sur le bouton pour terminer la connexion.")
		consent := b.post(e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}})
		wantLang(t, consent, "de", "<title>Demo App erlauben? · LoginSign</title>", "<strong>Demo App</strong> möchte Ihr LoginSign-Konto verwenden.",
			"Die App erhält:", "eine Kennung nur für diese App und Ihre globale Benutzer-ID", "Welche Adresse die App sieht",
			"Private Weiterleitungsadresse", ">Erlauben</button>", ">Ablehnen</button>", "Angemeldet als ann@example.com.")
		callback(t, b.consent(consent, "allow", ""))

		// A used link's error page follows Accept-Language.
		used := b.get(e.base + "/login/magic?token=" + url.QueryEscape(confirm.hidden(t, "token")))
		if used.StatusCode != http.StatusGone || !strings.Contains(used.Body, `<html lang="fr" dir="ltr">`) ||
			!strings.Contains(used.Body, "Ce lien de connexion ne peut pas être utilisé") || !strings.Contains(used.Body, "pendant 15 minutes") {
			t.Errorf("used link page: %d\n%s", used.StatusCode, used.Body)
		}
	})
}

// TestLanguageSetting: the person's language (setLanguage, viewer.language) comes before
// ui_locales and Accept-Language on the dashboard, on the sign-in pages they see signed in, and
// in the sign-in mail to their address; a page shown before anyone is signed in does not
// reveal it. A value naming no supported language is refused and changes nothing; the setting
// is in the data export, and null returns to automatic. Another person cannot read it.
func TestLanguageSetting(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ann := e.browser()
		ann.signInTo("ann@example.com")
		ann.Transport = langTransport{"fr"}
		const get = `{ viewer { id language } }`
		if v := ann.gql(get, nil)["viewer"].(map[string]any); v["language"] != nil {
			t.Fatalf("new account language = %v", v["language"])
		}
		wantLang(t, ann.get(e.base+"/dashboard"), "fr", "Votre profil", "Enregistrer la langue", `<option value="" selected>Automatique`)

		const set = `mutation($l: String) { setLanguage(input: {language: $l}) { language } }`
		for _, bad := range []string{"ja", "english", "de-DE; drop", strings.Repeat("x", 5000)} {
			_, errs := ann.graphql(set, map[string]any{"l": bad})
			if len(errs) != 1 || errs[0]["extensions"].(map[string]any)["code"] != "invalid_language" {
				t.Errorf("setLanguage(%q) errors %v", bad, errs)
			}
		}
		if v := ann.gql(get, nil)["viewer"].(map[string]any); v["language"] != nil {
			t.Fatalf("a refused value changed the language to %v", v["language"])
		}
		if got := ann.gql(set, map[string]any{"l": " DE "})["setLanguage"].(map[string]any)["language"]; got != "de" {
			t.Fatalf("setLanguage(DE) = %v", got)
		}
		if v := ann.gql(get, nil)["viewer"].(map[string]any); v["language"] != "de" {
			t.Fatalf("viewer.language = %v", v["language"])
		}

		// The dashboard, its scripts' messages and a sign-in page of an app asking for French.
		dash := ann.get(e.base + "/dashboard")
		wantLang(t, dash, "de", "Ihr Profil", "<title>Ihr Konto · LoginSign</title>", `<option value="de" lang="de" selected>Deutsch`, `"dashboard.no_apps":"Sie haben sich noch bei keiner App`)
		u := e.config(e.app, rpCallback).AuthCodeURL("st-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("ui_locales", "fr"))
		consent := ann.get(u)
		wantLang(t, consent, "de", ">Erlauben</button>", "Angemeldet als ann@example.com.")

		// Signed out, a browser asking for French: the page stays French (it must not tell
		// whether the address has an account), the mail to ann's address is German.
		other := e.browser()
		other.Transport = langTransport{"fr"}
		login := other.get(e.base + "/login")
		sent := other.post(e.base+"/login", url.Values{"email": {"ann@example.com"}, "flow": {login.hidden(t, "flow")}})
		wantLang(t, sent, "fr", "<title>Consultez votre messagerie · LoginSign</title>")
		if m := e.smtp.Next(t, 10*time.Second); m.Subject != "Bei LoginSign anmelden" {
			t.Errorf("mail to ann: %q", m.Subject)
		}
		// Nobody's setting for an address without an account: the page's language.
		login = other.get(e.base + "/login")
		other.post(e.base+"/login", url.Values{"email": {"nobody@example.com"}, "flow": {login.hidden(t, "flow")}})
		if m := e.smtp.Next(t, 10*time.Second); m.Subject != "Connexion à LoginSign" {
			t.Errorf("mail to a new address: %q", m.Subject)
		}

		// Another person reads only their own language.
		bob := e.browser()
		bob.signInTo("bob@example.com")
		annID := ann.gql(get, nil)["viewer"].(map[string]any)["id"].(string)
		if _, errs := bob.graphql(`query($id: ID!) { node(id: $id) { ... on User { language } } }`, map[string]any{"id": annID}); len(errs) == 0 {
			t.Errorf("bob read ann's language")
		}

		// The export holds it; null goes back to automatic.
		status, body := ann.raw(http.MethodGet, "/api/account/export", nil)
		if status != http.StatusOK || !strings.Contains(body, `"language":"de"`) {
			t.Errorf("export %d lacks the language:\n%.400s", status, body)
		}
		if got := ann.gql(set, map[string]any{"l": nil})["setLanguage"].(map[string]any)["language"]; got != nil {
			t.Fatalf("setLanguage(null) = %v", got)
		}
		wantLang(t, ann.get(e.base+"/dashboard"), "fr", "Votre profil")
	})
}

// TestWidgetsLanguage: the widgets' embedded pages speak their ui_locales (the widget's
// locale option), else Accept-Language, and pass ui_locales on to the authorization, so the
// sign-in that follows speaks it too; their error pages are translated.
func TestWidgetsLanguage(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.Transport = langTransport{"fr"}
		q := url.Values{"client_id": {e.app.ID}, "redirect_uri": {e.app.Redirects[0]}}
		wantLang(t, b.get(e.base+"/embed/login?"+q.Encode()), "fr", "Se connecter à Demo App", "Continuer avec l&#39;e-mail")
		q.Set("ui_locales", "de")
		login := b.get(e.base + "/embed/login?" + q.Encode())
		wantLang(t, login, "de", "Bei Demo App anmelden", "E-Mail-Adresse", "Weiter mit E-Mail", `name="ui_locales" value="de"`)
		bad := b.get(e.base + "/embed/banner?client_id=" + e.app.ID + "&position=middle&ui_locales=de")
		if bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.Body, `<html lang="de"`) || !strings.Contains(bad.Body, "position muss") {
			t.Errorf("banner error page: %d\n%s", bad.StatusCode, bad.Body)
		}
	})
}
