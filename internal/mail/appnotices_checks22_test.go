package mail_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// TestAppNoticesOfTheTeamAndTheDeletionInEveryLanguage: the notices of a member removed or
// leaving, an ownership transfer proposed or withdrawn and a deletion begun exist in en, fr
// and de, naming the application, the actor and the member (masked by the caller), with no key
// or formatting error and no run of three English words in French or German. To the member a
// change concerns (removed, demoted, proposed the ownership) the mail says why they get it and
// what they can do, not "as the owner or an admin"; the deletion has its own advice and button;
// the ownership moving its own "last" line.
func TestAppNoticesOfTheTeamAndTheDeletionInEveryLanguage(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	kinds := []mail.AppNotice{
		{Event: "app_member_removed", About: "ma•••@example.org"},
		{Event: "app_member_removed", About: "ma•••@example.org", Concerned: true},
		{Event: "app_member_left", About: "ma•••@example.org"},
		{Event: "app_transfer_proposed", About: "ma•••@example.org"},
		{Event: "app_transfer_proposed", About: "ma•••@example.org", Concerned: true, Within: 7 * 24 * time.Hour},
		{Event: "app_transfer_cancelled", About: "ma•••@example.org"},
		{Event: "app_transfer_cancelled", About: "ma•••@example.org", Concerned: true},
		{Event: "app_member_role", About: "ma•••@example.org", Role: "developer", Concerned: true},
		{Event: "app_deleting"},
		{Event: "app_owner", About: "ma•••@example.org", Last: true, Budget: time.Hour},
	}
	render := func(l *i18n.Locale, n mail.AppNotice) mail.Message {
		n.App, n.Actor, n.When, n.Link = "Acme Notes", "an•••@example.com", when, "https://id.example/portal/apps/app_1"
		m, ok := mail.AppSecurityNotice(l, "owner@example.com", n)
		if !ok {
			t.Fatalf("%s: no notice for %s", l.Lang(), n.Event)
		}
		return m
	}
	inputs := []string{"ma•••@example.org", "an•••@example.com", "owner@example.com", "https://id.example/portal/apps/app_1", "Acme", "Notes", "Notes.", "LoginSign", "(UTC)", "(UTC).", "--"}
	isInput := func(w string) bool {
		for _, in := range inputs {
			if strings.Contains(w, in) {
				return true
			}
		}
		return false
	}
	for _, lang := range []string{"en", "fr", "de"} {
		l := i18n.Choose(lang, "", "")
		for _, n := range kinds {
			m := render(l, n)
			name := lang + " " + n.Event
			if n.Concerned {
				name += " (concerned)"
			}
			if m.Headers["Content-Language"] != lang || !strings.HasPrefix(m.Subject, l.T("mail.notice.subject", "")) {
				t.Errorf("%s: Content-Language %q, subject %q", name, m.Headers["Content-Language"], m.Subject)
			}
			if strings.Contains(m.Text, "mail.") || strings.Contains(m.HTML, "mail.app") || strings.Contains(m.Text, "%!") || strings.Contains(m.HTML, "%!") {
				t.Errorf("%s shows a key or a formatting error:\n%s", name, m.Text)
			}
			named := []string{"Acme Notes", "an•••@example.com"}
			if n.About != "" {
				named = append(named, n.About)
			}
			for _, s := range named {
				if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
					t.Errorf("%s does not name %q:\n%s", name, s, m.Text)
				}
			}
			why, notWhy := l.T("mail.app_notice.why", "Acme Notes"), l.T("mail.app_notice.why_concerned", "Acme Notes")
			if n.Concerned {
				why, notWhy = notWhy, why
			}
			if !strings.Contains(m.Text, why) || strings.Contains(m.Text, notWhy) {
				t.Errorf("%s does not say why the recipient gets it (%q):\n%s", name, why, m.Text)
			}
			key := "mail.app_notice." + n.Event
			advice := l.T("mail.app_notice.advice")
			switch {
			case n.Concerned && n.Within > 0:
				advice = l.T(key+".advice_concerned", l.Period(n.Within))
			case n.Concerned && l.Has(key+".advice_concerned"):
				advice = l.T(key + ".advice_concerned")
			case l.Has(key + ".advice"):
				advice = l.T(key + ".advice")
			}
			if !strings.Contains(m.Text, advice) {
				t.Errorf("%s lacks its advice %q:\n%s", name, advice, m.Text)
			}
			if n.Concerned && strings.Contains(m.Text, l.T("mail.app_notice.advice")) {
				t.Errorf("%s gives the member the owner's advice:\n%s", name, m.Text)
			}
			if n.Last && (!strings.Contains(m.Text, l.T("mail.app_notice.app_owner.last", l.Period(time.Hour))) || strings.Contains(m.Text, l.T("mail.app_notice.last", l.Period(time.Hour)))) {
				t.Errorf("%s: the last notice of an ownership change of the hour does not say so:\n%s", name, m.Text)
			}
			if lang == "en" {
				continue
			}
			seen := " " + strings.Join(words(m), " ") + " "
			ew := words(render(i18n.English, n))
			for i := 0; i+3 <= len(ew); i++ {
				run := ew[i : i+3]
				if isInput(run[0]) || isInput(run[1]) || isInput(run[2]) {
					continue
				}
				if s := " " + strings.Join(run, " ") + " "; strings.Contains(seen, s) {
					t.Errorf("%s keeps English %q", name, s)
				}
			}
		}
	}
	del := render(i18n.English, mail.AppNotice{Event: "app_deleting"})
	if !strings.Contains(del.HTML, "Open the Developer Portal") || strings.Contains(del.HTML, "Open the application") ||
		!strings.Contains(del.Text, "This cannot be undone.") {
		t.Errorf("the deletion notice:\n%s", del.HTML)
	}
	removed := render(i18n.English, mail.AppNotice{Event: "app_member_removed", About: "ma•••@example.org", Concerned: true})
	if !strings.Contains(removed.Text, "ma•••@example.org was removed from the team of Acme Notes.") ||
		!strings.Contains(removed.Text, "By an•••@example.com, on") || !strings.Contains(removed.HTML, "Open the Developer Portal") {
		t.Errorf("the removed member's notice does not say who removed them:\n%s", removed.Text)
	}
}
