package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/internal/i18n"
)

// wantLinkPageHeaders checks the security headers the mailed-link pages always had: never
// stored, not framed, no script but forget-link.js, forms to this origin only.
func wantLinkPageHeaders(t *testing.T, p page) {
	t.Helper()
	h := p.Header
	csp := h.Get("Content-Security-Policy")
	if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") ||
		!strings.Contains(csp, "form-action 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s %s: headers %v", p.Request.Method, p.Request.URL.Path, h)
	}
	// One script only: forget-link.js, which takes the link's token out of the history (pages24).
	if strings.Count(p.Body, "<script") != strings.Count(p.Body, `<script src="/static/forget-link.js"></script>`) {
		t.Errorf("%s: the page loads a script other than forget-link.js", p.Request.URL.Path)
	}
}

// TestAccountLinkPagesLanguage: the pages behind the mailed account links (address
// verification, email change confirm and cancel) speak English, French and German: the
// signed-in person's setting, else Accept-Language, and for the cancel link (mailed to the
// account's primary address) the account's setting even signed out. Their domain errors are
// translated, they keep their security headers, and each link works once. On SQLite and
// PostgreSQL.
func TestAccountLinkPagesLanguage(t *testing.T) {
	t.Parallel()
	type texts struct {
		verifySignIn, verify, verifyButton, verified, used     string
		changeTitle, changeButton, changed, cancelTitle, other string
		cancelled, signIn                                      string
	}
	langs := map[string]texts{
		"en": {"Sign in to confirm your address", "Confirm your address", "Confirm this address", "is now linked to your LoginSign account.",
			"the verification link is invalid, used or expired", "Change your primary address?", "Make it my primary address",
			"is now the primary address of your LoginSign account.", "Cancel the address change?", "this link was already used, was cancelled, or has expired",
			"Your primary address stays as it was.", "Sign in to LoginSign"},
		"fr": {"Connectez-vous pour confirmer votre adresse", "Confirmez votre adresse", "Confirmer cette adresse", "est maintenant liée à votre compte LoginSign.",
			"le lien de vérification n’est pas valable, a déjà servi ou a expiré", "Changer votre adresse principale ?", "En faire mon adresse principale",
			"est maintenant l’adresse principale de votre compte LoginSign.", "Annuler le changement d’adresse ?", "ce lien a déjà été utilisé, a été annulé ou a expiré",
			"Votre adresse principale reste inchangée.", "Se connecter à LoginSign"},
		"de": {"Melden Sie sich an, um Ihre Adresse zu bestätigen", "Bestätigen Sie Ihre Adresse", "Diese Adresse bestätigen", "ist jetzt mit Ihrem LoginSign-Konto verknüpft.",
			"der Bestätigungslink ist ungültig, wurde verwendet oder ist abgelaufen", "Hauptadresse ändern?", "Zu meiner Hauptadresse machen",
			"ist jetzt die Hauptadresse Ihres LoginSign-Kontos.", "Adressänderung abbrechen?", "dieser Link wurde bereits verwendet, wurde abgebrochen oder ist abgelaufen",
			"Ihre Hauptadresse bleibt, wie sie war.", "Bei LoginSign anmelden"},
	}
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		dev := e.browser()
		dev.signInTo("dev@example.com")
		for lang, want := range langs {
			who := "p-" + lang + "@example.com"
			person := e.browser()
			e.connect(person, e.app, who)
			person.Transport = langTransport{lang + ";q=0.9, ja;q=0.5"}
			anon := e.browser()
			anon.Transport = langTransport{lang}
			u := e.userByEmail(who)

			// Address verification: signed out, signed in, done, and the link spent.
			if _, err := e.srv.account.AddAlternativeEmail(as(u.ID), "alt-"+who, e.changeCodeAs(as(u.ID))); err != nil {
				t.Fatal(err)
			}
			verify := e.mailLink("alt-"+who, "/dashboard/emails/verify")
			p := anon.get(verify)
			wantLang(t, p, lang, want.verifySignIn, want.signIn, "/login?return_to=")
			wantLinkPageHeaders(t, p)
			get, post := person.confirmForm(verify)
			wantLang(t, get, lang, "<title>"+want.verify+" · LoginSign</title>", want.verifyButton)
			wantLinkPageHeaders(t, get)
			wantLang(t, post, lang, "alt-"+who+" "+want.verified)
			wantLinkPageHeaders(t, post)
			again := person.post(e.base+"/dashboard/emails/verify", url.Values{"token": {strings.TrimPrefix(verify, e.base+"/dashboard/emails/verify?token=")}})
			if again.StatusCode != http.StatusBadRequest || !strings.Contains(again.Body, want.used) || again.Header.Get("Content-Language") != lang {
				t.Errorf("%s: verification link used twice: %d %s", lang, again.StatusCode, again.Body)
			}
			wantLinkPageHeaders(t, again)

			// Email change requested by the app: confirm in the person's language.
			conn := e.connectionOf(ctx, u.ID)
			if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn+"/email",
				map[string]any{"email": "new-" + who}); status != 200 {
				t.Fatalf("sync: %d %s", status, body)
			}
			confirm := e.mailLink("new-"+who, "/account/email-change/confirm")
			e.mailLink(who, "/account/email-change/cancel")
			get, post = person.confirmChange(confirm)
			wantLang(t, get, lang, want.changeTitle, want.changeButton, "Demo App")
			wantLinkPageHeaders(t, get)
			wantLang(t, post, lang, "new-"+who+" "+want.changed)
			// The old address is told of the change, in the person's language. Chosen by its
			// subject: the notice of the verification above, also to who, and the notices of the
			// languages before are sent in the background and may come before or after it.
			l := i18n.Choose(lang, "", "")
			e.waitNotice(who, l.T("mail.notice.subject", l.T("mail.notice.primary_changed.headline")))
			if _, again := person.confirmForm(confirm); again.Response != nil {
				t.Errorf("%s: a used confirm link shows its form again", lang)
			}
			if p := person.get(confirm); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, want.other) || p.Header.Get("Content-Language") != lang {
				t.Errorf("%s: used confirm link: %d %s", lang, p.StatusCode, p.Body)
			}

			// Cancel: the account's setting, even signed out in a browser asking for English.
			if err := e.srv.db.User.UpdateOneID(u.ID).SetLanguage(lang).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn+"/email",
				map[string]any{"email": "third-" + who}); status != 200 {
				t.Fatalf("sync: %d %s", status, body)
			}
			e.mailLink("third-"+who, "/account/email-change/confirm")
			cancel := e.mailLink("new-"+who, "/account/email-change/cancel")
			english := e.browser()
			english.Transport = langTransport{"en"}
			get, post = english.confirmForm(cancel)
			wantLang(t, get, lang, want.cancelTitle)
			wantLinkPageHeaders(t, get)
			wantLang(t, post, lang, want.cancelled)
			if p := english.post(e.base+"/account/email-change/cancel", url.Values{"token": {strings.TrimPrefix(cancel, e.base+"/account/email-change/cancel?token=")}}); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, "<html lang=\"en\"") {
				t.Errorf("%s: cancel used twice: %d %s", lang, p.StatusCode, p.Body)
			}
		}
	})
}

// connectionOf is the id of uid's connection to the demo app.
func (e *oauthEnv) connectionOf(ctx context.Context, uid string) string {
	e.t.Helper()
	c, err := e.srv.db.AppConnection.Query().Where(appconnection.UserID(uid), appconnection.ApplicationID(e.app.ID)).Only(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}
