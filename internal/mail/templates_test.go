package mail_test

import (
	stdhtml "html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

func TestMagicLinkSubjectNamesTheApp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ app, want string }{
		{"", "Sign in to LoginSign"},
		{"Acme Notes", "Sign in to Acme Notes with LoginSign"},
		{"Evil\r\nBcc: x@y", "Sign in to Evil  Bcc: x@y with LoginSign"},
	} {
		m := mail.MagicLink("a@example.com", link, "", tc.app, 15*time.Minute)
		if m.Subject != tc.want {
			t.Errorf("app %q: Subject = %q, want %q", tc.app, m.Subject, tc.want)
		}
	}
}

// The code is printed in both parts, spaced for reading; the HTML has no fixed-width layout.
func TestMagicLinkCode(t *testing.T) {
	t.Parallel()
	m := mail.MagicLink("a@example.com", link, "123456", "", 15*time.Minute)
	if !strings.Contains(m.Text, "123 456") || !strings.Contains(m.HTML, "123 456") {
		t.Errorf("the code is not in the mail:\n%s", m.Text)
	}
	if strings.Contains(m.HTML, `width="480"`) || !strings.Contains(m.HTML, "max-width:480px") {
		t.Errorf("the HTML layout is not fluid:\n%s", m.HTML)
	}
	if m := mail.MagicLink("a@example.com", link, "", "", 15*time.Minute); strings.Contains(m.Text, "code") {
		t.Errorf("a mail without a code mentions one:\n%s", m.Text)
	}
	// "Read me the code you just got" is how a code is phished: the mail says never to.
	if want := "Never give them to anyone: LoginSign and the apps you use never ask you for them."; !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
		t.Errorf("the mail with a code does not warn against giving it away:\n%s", m.Text)
	}
}

func TestMagicLinkText(t *testing.T) {
	t.Parallel()
	m := mail.MagicLink("a@example.com", link, "", "Acme", 15*time.Minute)
	if !strings.Contains(m.Text, "\n"+link+"\n") {
		t.Errorf("link not on a line of its own:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "expires in 15 minutes") {
		t.Errorf("text does not give the lifetime:\n%s", m.Text)
	}
	if m.To != "a@example.com" {
		t.Errorf("To = %q", m.To)
	}
}

func TestTemplatesEscapeHTML(t *testing.T) {
	t.Parallel()
	m := mail.MagicLink("a@example.com", `https://x.test/?a="><script>`, "", "<b>Acme</b>", time.Hour)
	for _, bad := range []string{"<b>Acme</b>", "<script>", `"><script`} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML contains unescaped %q:\n%s", bad, m.HTML)
		}
	}
	if !strings.Contains(m.HTML, "&lt;b&gt;Acme&lt;/b&gt;") || !strings.Contains(m.HTML, "1 hour") {
		t.Errorf("HTML lacks the escaped app name or lifetime:\n%s", m.HTML)
	}
	v := mail.VerifyEmail(i18n.English, `"<x>"@example.com`, "javascript:alert(1)")
	if strings.Contains(v.HTML, `href="javascript:`) || strings.Contains(v.HTML, "<x>") {
		t.Errorf("VerifyEmail HTML is not escaped:\n%s", v.HTML)
	}
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	m := mail.VerifyEmail(i18n.English, "alt@example.com", link)
	if !strings.Contains(m.Text, "\n"+link+"\n") || !strings.Contains(m.Text, "alt@example.com") {
		t.Errorf("text:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, "Confirm address") || !strings.Contains(m.HTML, "alt@example.com") {
		t.Errorf("HTML:\n%s", m.HTML)
	}
	if m.Subject == "" {
		t.Error("no subject")
	}
}

// TestMagicLinkLanguages: the sign-in mail in French and German, plurals included; English
// is MagicLink's.
func TestMagicLinkLanguages(t *testing.T) {
	t.Parallel()
	if got, want := mail.MagicLinkIn(i18n.English, "a@example.com", "https://x/l", "123456", "Notes", time.Hour), mail.MagicLink("a@example.com", "https://x/l", "123456", "Notes", time.Hour); got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
		t.Fatalf("English differs:\n%+v\n%+v", got, want)
	}
	for _, c := range []struct {
		lang, subject, expiry, lead string
		ttl                         time.Duration
	}{
		{"fr", "Connexion à Notes avec LoginSign", "expire dans 1 heure, tout comme le code.", `<html lang="fr" dir="ltr">`, time.Hour},
		{"de", "Mit LoginSign bei Notes anmelden", "läuft in 2 Stunden ab, ebenso der Code.", `<html lang="de" dir="ltr">`, 2 * time.Hour},
		{"fr", "Connexion à Notes avec LoginSign", "expire dans 15 minutes, tout comme le code.", `>Se connecter</a>`, 15 * time.Minute},
	} {
		m := mail.MagicLinkIn(i18n.Choose("", c.lang, ""), "a@example.com", "https://x/l", "123456", "Notes", c.ttl)
		if m.Subject != c.subject || !strings.Contains(m.Text, c.expiry) || !strings.Contains(m.Text, "123 456") ||
			!strings.Contains(m.HTML, c.lead) || !strings.Contains(m.HTML, c.expiry[:10]) {
			t.Errorf("%s mail %q:\n%s\n%s", c.lang, m.Subject, m.Text, m.HTML)
		}
	}
}

// mailKinds renders every mail LoginSign writes in l, with the same inputs each time.
func mailKinds(l *i18n.Locale) map[string]mail.Message {
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	out := map[string]mail.Message{
		"magic_link":           mail.MagicLinkIn(l, "ann@example.com", link, "123456", "Notes", 90*time.Minute),
		"magic_link_plain":     mail.MagicLinkIn(l, "ann@example.com", link, "", "", time.Minute),
		"verify_email":         mail.VerifyEmail(l, "ann@example.com", link),
		"data_export":          mail.DataExport(l, "ann@example.com", when),
		"email_change_confirm": mail.EmailChangeConfirm(l, "new@example.com", link, "Notes", 24*time.Hour),
		"email_change_unknown": mail.EmailChangeConfirm(l, "new@example.com", link, "", time.Hour),
		"email_change_notice":  mail.EmailChangeNotice(l, "ann@example.com", "new@example.com", link, "Notes"),
	}
	for _, event := range []string{"passkey_added", "passkey_removed", "totp_added", "totp_removed", "recovery_code_used", "recovery_codes_renewed"} {
		m, ok := mail.SecurityNotice(l, "ann@example.com", event, when, "https://id.example/dashboard")
		if !ok {
			panic("no security notice for " + event)
		}
		out["security_notice_"+event] = m
	}
	return out
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

// words is what a reader sees of m: subject, text and HTML without markup, as words.
func words(m mail.Message) []string {
	body := m.HTML[strings.Index(m.HTML, "<body"):]
	html := stdhtml.UnescapeString(tagRe.ReplaceAllString(body, " "))
	return strings.Fields(m.Subject + "\n" + m.Text + "\n" + html)
}

// TestMailsInEveryLanguage: every mail in French and German says its language and has no
// English left: no run of three words of the English mail, other than the inputs (link,
// addresses, app name, code), appears in it.
func TestMailsInEveryLanguage(t *testing.T) {
	english := mailKinds(i18n.English)
	inputs := []string{link, "ann@example.com", "new@example.com", "Notes", "123", "456", "https://id.example/dashboard", "LoginSign", "(UTC)", "(UTC).", "--"}
	isInput := func(w string) bool {
		for _, in := range inputs {
			if strings.Contains(w, in) {
				return true
			}
		}
		return false
	}
	for _, lang := range []string{"fr", "de"} {
		l := i18n.Choose(lang, "", "")
		for kind, m := range mailKinds(l) {
			en := english[kind]
			if m.Headers["Content-Language"] != lang || !strings.Contains(m.HTML, `<html lang="`+lang+`" dir="ltr">`) {
				t.Errorf("%s %s: Content-Language %q, HTML head %.80q", lang, kind, m.Headers["Content-Language"], m.HTML)
			}
			if m.Subject == en.Subject || m.Text == en.Text {
				t.Errorf("%s %s is the English mail", lang, kind)
			}
			seen := " " + strings.Join(words(m), " ") + " "
			ew := words(en)
			for i := 0; i+3 <= len(ew); i++ {
				run := ew[i : i+3]
				if isInput(run[0]) || isInput(run[1]) || isInput(run[2]) {
					continue
				}
				if s := " " + strings.Join(run, " ") + " "; strings.Contains(seen, s) {
					t.Errorf("%s %s keeps English %q", lang, kind, s)
				}
			}
			if !strings.Contains(m.Text, "\n"+link+"\n") && strings.Contains(en.Text, "\n"+link+"\n") {
				t.Errorf("%s %s: the link is not on a line of its own:\n%s", lang, kind, m.Text)
			}
		}
	}
}

// TestMailDatesNumbersAndPlurals: dates, lifetimes and the unknown app in each language.
func TestMailDatesNumbersAndPlurals(t *testing.T) {
	for _, c := range []struct {
		lang string
		want map[string][]string
	}{
		{"en", map[string][]string{
			"data_export":                {"on March 5, 2026 at 2:07 PM (UTC)."},
			"magic_link":                 {"expires in 90 minutes"},
			"magic_link_plain":           {"expires in 1 minute."},
			"email_change_confirm":       {"expires in 24 hours."},
			"email_change_unknown":       {"An application asked", "expires in 1 hour."},
			"security_notice_totp_added": {"Two-step verification was turned on", "(ann@example.com) on March 5, 2026 at 2:07 PM (UTC)."},
		}},
		{"fr", map[string][]string{
			"data_export":                {"le 5 mars 2026 à 14:07 (UTC)."},
			"magic_link":                 {"expire dans 90 minutes"},
			"magic_link_plain":           {"expire dans 1 minute."},
			"email_change_confirm":       {"expire dans 24 heures."},
			"email_change_unknown":       {"Une application a demandé", "expire dans 1 heure."},
			"security_notice_totp_added": {"La vérification en deux étapes a été activée", "(ann@example.com) le 5 mars 2026 à 14:07 (UTC)."},
		}},
		{"de", map[string][]string{
			"data_export":                {"am 5. März 2026, 14:07 Uhr (UTC) heruntergeladen."},
			"magic_link":                 {"läuft in 90 Minuten ab"},
			"magic_link_plain":           {"läuft in 1 Minute ab."},
			"email_change_confirm":       {"läuft in 24 Stunden ab."},
			"email_change_unknown":       {"Eine Anwendung hat", "läuft in 1 Stunde ab."},
			"security_notice_totp_added": {"Die Bestätigung in zwei Schritten wurde eingeschaltet", "(ann@example.com) am 5. März 2026, 14:07 Uhr (UTC)"},
		}},
	} {
		mails := mailKinds(i18n.Choose(c.lang, "", ""))
		for kind, wants := range c.want {
			for _, want := range wants {
				if !strings.Contains(mails[kind].Text, want) {
					t.Errorf("%s %s lacks %q:\n%s", c.lang, kind, want, mails[kind].Text)
				}
			}
		}
	}
}

var keyRe = regexp.MustCompile(`\.L\.[TH] "([^"]+)"`)

// TestMailTemplateKeysAreInTheCatalogs: every message a template asks for exists (an absent
// key would print the key itself), so TestCatalogsComplete covers every mail.
func TestMailTemplateKeysAreInTheCatalogs(t *testing.T) {
	files, err := filepath.Glob("templates/*.tmpl")
	if err != nil || len(files) < 12 {
		t.Fatalf("templates: %v %v", files, err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
			n++
			if !i18n.English.Has(m[1]) {
				t.Errorf("%s uses %q, which is not in the catalogs", f, m[1])
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d catalog keys found in the templates", n)
	}
	if _, ok := mail.SecurityNotice(i18n.English, "a@example.com", "no_such_event", time.Now(), "https://x"); ok {
		t.Error("a security notice for an unknown event")
	}
}
