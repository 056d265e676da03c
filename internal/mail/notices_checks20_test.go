package mail_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// addressNoticeKinds renders the notices of a change to the person's sign-in addresses in l:
// to the primary address, naming the address masked, and to the removed address.
func addressNoticeKinds(t *testing.T, l *i18n.Locale) map[string]mail.Message {
	t.Helper()
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	out := map[string]mail.Message{}
	for kind, c := range map[string]struct{ to, event, about string }{
		"verified": {"ann@example.com", "address_verified", "an•••@example.org"},
		"removed":  {"ann@example.com", "address_removed", "an•••@example.org"},
		"unlinked": {"new@example.com", "address_unlinked", ""},
	} {
		m, ok := mail.AddressSecurityNotice(l, c.to, c.event, c.about, when, "https://id.example/dashboard")
		if !ok {
			t.Fatalf("%s: no security notice for %s", l.Lang(), c.event)
		}
		out[kind] = m
	}
	return out
}

// TestAddressNoticesInEveryLanguage: the notices of an alternative address verified or
// removed exist in every language, name the address they are given (masked by the caller) in
// both parts, carry the dashboard link and the date in the person's language, and in French
// and German keep no run of three words of the English mail (as TestMailsInEveryLanguage).
func TestAddressNoticesInEveryLanguage(t *testing.T) {
	t.Parallel()
	english := addressNoticeKinds(t, i18n.English)
	inputs := []string{"an•••@example.org", "ann@example.com", "new@example.com", "https://id.example/dashboard", "LoginSign", "(UTC)", "(UTC).", "--"}
	isInput := func(w string) bool {
		for _, in := range inputs {
			if strings.Contains(w, in) {
				return true
			}
		}
		return false
	}
	dates := map[string]string{"en": "March 5, 2026 at 2:07 PM (UTC)", "fr": "5 mars 2026 à 14:07 (UTC)", "de": "5. März 2026, 14:07 Uhr (UTC)"}
	for _, lang := range []string{"en", "fr", "de"} {
		for kind, m := range addressNoticeKinds(t, i18n.Choose(lang, "", "")) {
			if m.Headers["Content-Language"] != lang || !strings.HasPrefix(m.Subject, i18n.Choose(lang, "", "").T("mail.notice.subject", "")) {
				t.Errorf("%s %s: Content-Language %q, subject %q", lang, kind, m.Headers["Content-Language"], m.Subject)
			}
			if strings.Contains(m.Text, "mail.notice") || strings.Contains(m.Text, "%!") || strings.Contains(m.HTML, "%!") {
				t.Errorf("%s %s shows a key or a formatting error:\n%s", lang, kind, m.Text)
			}
			if !strings.Contains(m.Text, "https://id.example/dashboard") || !strings.Contains(m.Text, dates[lang]) {
				t.Errorf("%s %s lacks the link or the date %q:\n%s", lang, kind, dates[lang], m.Text)
			}
			named := strings.Contains(m.Text, "an•••@example.org") && strings.Contains(m.HTML, "an•••@example.org")
			if named != (kind != "unlinked") {
				t.Errorf("%s %s names the address: %v\n%s", lang, kind, named, m.Text)
			}
			if lang == "en" {
				continue
			}
			en := english[kind]
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
		}
	}
	// The usual advice for the notices to the primary address; the removed address is told
	// how to sign in instead.
	if en := english["verified"]; !strings.Contains(en.Text, i18n.English.T("mail.notice.advice")) {
		t.Errorf("the notice of a verified address lacks the usual advice:\n%s", en.Text)
	}
	if en := english["unlinked"]; !strings.Contains(en.Text, "primary address or a passkey") {
		t.Errorf("the notice to a removed address does not say how to sign in:\n%s", en.Text)
	}
}
