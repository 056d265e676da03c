package mail_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// appNoticeKinds renders each security notice of an application in l.
func appNoticeKinds(t *testing.T, l *i18n.Locale, last bool) map[string]mail.Message {
	t.Helper()
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	out := map[string]mail.Message{}
	for event, n := range map[string]mail.AppNotice{
		"app_client_secret":  {},
		"app_webhook_secret": {},
		"app_redirects":      {Settings: []string{"redirect_uris", "allowed_origins", "pushed_authorization"}},
		"app_owner":          {About: "ma•••@example.org"},
		"app_member_joined":  {About: "ma•••@example.org", Role: "developer"},
		"app_member_role":    {About: "ma•••@example.org", Role: "admin"},
	} {
		n.Event, n.App, n.Actor, n.When, n.Link, n.Last = event, "Acme Notes", "an•••@example.com", when, "https://id.example/portal/apps/app_1", last
		n.Budget = time.Hour
		m, ok := mail.AppSecurityNotice(l, "owner@example.com", n)
		if !ok {
			t.Fatalf("%s: no notice for %s", l.Lang(), event)
		}
		out[event] = m
	}
	return out
}

// TestAppNoticesInEveryLanguage: the security notices of an application exist in en, fr and
// de; each starts its subject as every security notice does (so the tests' mail readers skip
// it, isSecurityNotice), names the application, the actor as given (masked by the caller),
// what it is about and the new role, in both parts, carries the portal link and the date in
// the recipient's language, says why the recipient gets it, and keeps no run of three English
// words in French and German. The last notice of the hour says so; the others do not. An
// unknown event is refused.
func TestAppNoticesInEveryLanguage(t *testing.T) {
	t.Parallel()
	english := appNoticeKinds(t, i18n.English, false)
	inputs := []string{"ma•••@example.org", "an•••@example.com", "owner@example.com", "https://id.example/portal/apps/app_1", "Acme", "Notes", "Notes.", "LoginSign", "(UTC)", "(UTC).", "--", "(PAR)"}
	isInput := func(w string) bool {
		for _, in := range inputs {
			if strings.Contains(w, in) {
				return true
			}
		}
		return false
	}
	dates := map[string]string{"en": "March 5, 2026 at 2:07 PM (UTC)", "fr": "5 mars 2026 à 14:07 (UTC)", "de": "5. März 2026, 14:07 Uhr (UTC)"}
	roles := map[string][2]string{"en": {"developer", "admin"}, "fr": {"développeur", "administrateur"}, "de": {"Entwickler", "Administrator"}}
	settings := map[string]string{"en": "redirect URIs, allowed origins, pushed authorization requests (PAR), no longer required",
		"fr": "URI de redirection, origines autorisées, requêtes d’autorisation poussées (PAR), qui ne sont plus exigées",
		"de": "Weiterleitungs-URIs, erlaubte Ursprünge, vorab übermittelte Autorisierungsanfragen (PAR), nicht mehr erforderlich"}
	for _, lang := range []string{"en", "fr", "de"} {
		l := i18n.Choose(lang, "", "")
		if lang == "de" && roles["de"][0] != l.T("mail.invite.role_developer") {
			roles["de"] = [2]string{l.T("mail.invite.role_developer"), l.T("mail.invite.role_admin")}
		}
		for event, m := range appNoticeKinds(t, l, false) {
			if m.Headers["Content-Language"] != lang || !strings.HasPrefix(m.Subject, l.T("mail.notice.subject", "")) || m.Kind != "app_notice" {
				t.Errorf("%s %s: Content-Language %q, subject %q, kind %q", lang, event, m.Headers["Content-Language"], m.Subject, m.Kind)
			}
			if strings.Contains(m.Text, "mail.") || strings.Contains(m.Text, "%!") || strings.Contains(m.HTML, "%!") {
				t.Errorf("%s %s shows a key or a formatting error:\n%s", lang, event, m.Text)
			}
			for _, s := range []string{"https://id.example/portal/apps/app_1", dates[lang], "Acme Notes", "an•••@example.com", l.T("mail.app_notice.why", "Acme Notes")} {
				if !strings.Contains(m.Text, s) {
					t.Errorf("%s %s lacks %q:\n%s", lang, event, s, m.Text)
				}
			}
			if !strings.Contains(m.HTML, "<strong>Acme Notes</strong>") || !strings.Contains(m.HTML, "<strong>an•••@example.com</strong>") {
				t.Errorf("%s %s: the HTML part does not name the application and the actor in bold:\n%s", lang, event, m.HTML)
			}
			want := map[string][]string{"app_owner": {"ma•••@example.org"}, "app_member_joined": {"ma•••@example.org", roles[lang][0]},
				"app_member_role": {"ma•••@example.org", roles[lang][1]}, "app_redirects": {settings[lang]}}[event]
			for _, s := range want {
				if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
					t.Errorf("%s %s does not name %q:\n%s", lang, event, s, m.Text)
				}
			}
			if strings.Contains(m.Text, l.T("mail.app_notice.last", l.Period(time.Hour))) {
				t.Errorf("%s %s says it is the last one:\n%s", lang, event, m.Text)
			}
			if lang == "en" {
				continue
			}
			seen := " " + strings.Join(words(m), " ") + " "
			ew := words(english[event])
			for i := 0; i+3 <= len(ew); i++ {
				run := ew[i : i+3]
				if isInput(run[0]) || isInput(run[1]) || isInput(run[2]) {
					continue
				}
				if s := " " + strings.Join(run, " ") + " "; strings.Contains(seen, s) {
					t.Errorf("%s %s keeps English %q", lang, event, s)
				}
			}
		}
		for event, m := range appNoticeKinds(t, l, true) {
			last := l.T("mail.app_notice.last", l.Period(time.Hour))
			if event == "app_owner" { // a budget of its own (team.DefaultOwnerNotices)
				last = l.T("mail.app_notice.app_owner.last", l.Period(time.Hour))
			}
			if !strings.Contains(m.Text, last) || !strings.Contains(m.HTML, last) {
				t.Errorf("%s %s: the last notice of the hour does not say so:\n%s", lang, event, m.Text)
			}
		}
	}
	m, ok := mail.AppSecurityNotice(i18n.English, "owner@example.com", mail.AppNotice{Event: "app_something", App: "Acme"})
	if ok {
		t.Errorf("an unknown event rendered: %+v", m)
	}
	// Left the team since: named as such, never as an empty name.
	m, _ = mail.AppSecurityNotice(i18n.English, "owner@example.com", mail.AppNotice{Event: "app_client_secret", App: "Acme"})
	if !strings.Contains(m.Text, "By a member who has left the team since, on") {
		t.Errorf("a notice without an actor:\n%s", m.Text)
	}
}
