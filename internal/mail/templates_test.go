package mail_test

import (
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
	v := mail.VerifyEmail(`"<x>"@example.com`, "javascript:alert(1)")
	if strings.Contains(v.HTML, `href="javascript:`) || strings.Contains(v.HTML, "<x>") {
		t.Errorf("VerifyEmail HTML is not escaped:\n%s", v.HTML)
	}
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	m := mail.VerifyEmail("alt@example.com", link)
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
