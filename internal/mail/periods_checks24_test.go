package mail_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// TestThePauseNoticesSayTheWindowTheCallerGives: the notices that the second step was paused
// (too many wrong codes in browsers new to the account, or in one browser) say how long, from
// the window of the rule that paused it (UndoTimes.Pause: mfa.Service.NewBrowserFailures or
// KnownBrowserFailures), in both parts and every language. Before, they said "for the next
// day" whatever the rule.
func TestThePauseNoticesSayTheWindowTheCallerGives(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	for _, c := range []struct {
		lang, event string
		pause       time.Duration
		want        string
	}{
		{"en", "second_step_paused", 24 * time.Hour, "For up to 24 hours your account signs in only in browsers you used before"},
		{"en", "second_step_paused", 2 * day, "For up to 2 days your account signs in only in browsers you used before"},
		{"en", "second_step_paused_browser", 6 * time.Hour, "For up to 6 hours that browser cannot sign in"},
		{"fr", "second_step_paused", 3 * day, "Pendant 3 jours au plus, votre compte ne se connecte que"},
		{"fr", "second_step_paused_browser", time.Hour, "Pendant 1 heure au plus, ce navigateur ne peut pas se connecter"},
		{"de", "second_step_paused", 2 * day, "Bis zu 2 Tage lang meldet sich Ihr Konto nur in Browsern an"},
		{"de", "second_step_paused_browser", 12 * time.Hour, "Bis zu 12 Stunden lang kann sich dieser Browser nicht anmelden"},
	} {
		m, ok := mail.UndoableSecurityNotice(i18n.Choose(c.lang, "", ""), "p@example.com", c.event, when,
			"https://id.example/dashboard", "", mail.UndoTimes{Link: 7 * day, Removal: 3 * day, Pause: c.pause})
		if !ok {
			t.Fatalf("%s: no notice of %s", c.lang, c.event)
		}
		text, html := strings.ReplaceAll(m.Text, "\r\n", "\n"), m.HTML
		if !strings.Contains(text, c.want) || !strings.Contains(html, c.want) {
			t.Errorf("%s %s paused for %v does not say %q:\n%s", c.lang, c.event, c.pause, c.want, text)
		}
	}
}

// TestTheLastAppNoticeSaysTheBudgetsWindow: the last security notice of an application a
// budget lets through says for how long no other follows, from the window of that budget
// (AppNotice.Budget: team.DefaultNotices, team.DefaultOwnerNotices), in both parts and every
// language. Before, it said "for the next hour" whatever the budget.
func TestTheLastAppNoticeSaysTheBudgetsWindow(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	for _, c := range []struct {
		lang, event string
		budget      time.Duration
		want        string
	}{
		{"en", "app_redirects", time.Hour, "the last security notice about this application for up to 1 hour:"},
		{"en", "app_redirects", 2 * time.Hour, "the last security notice about this application for up to 2 hours:"},
		{"en", "app_owner", 3 * day, "the last notice of a change of owner of this application for up to 3 days:"},
		{"fr", "app_redirects", 30 * time.Minute, "sur cette application pendant 30 minutes au plus :"},
		{"fr", "app_owner", 2 * time.Hour, "de cette application pendant 2 heures au plus :"},
		{"de", "app_redirects", 2 * time.Hour, "Dies ist für bis zu 2 Stunden der letzte Sicherheitshinweis"},
		{"de", "app_owner", 2 * day, "Dies ist für bis zu 2 Tage der letzte Hinweis auf einen Eigentümerwechsel"},
	} {
		m, ok := mail.AppSecurityNotice(i18n.Choose(c.lang, "", ""), "owner@example.com", mail.AppNotice{
			Event: c.event, App: "Acme", Actor: "an•••@example.com", About: "ma•••@example.org",
			Settings: []string{"redirect_uris"}, When: when, Link: "https://id.example/portal/apps/app_1",
			Last: true, Budget: c.budget})
		if !ok {
			t.Fatalf("%s: no notice of %s", c.lang, c.event)
		}
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		if !strings.Contains(text, c.want) || !strings.Contains(m.HTML, c.want) {
			t.Errorf("%s %s with a budget of %v does not say %q:\n%s", c.lang, c.event, c.budget, c.want, text)
		}
	}
}
