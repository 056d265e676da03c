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
