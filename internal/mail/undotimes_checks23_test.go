package mail_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

const day = 24 * time.Hour

// TestTheAuthenticatorAppNoticesSayTheTimesTheCallerGives: the notice of an authenticator app
// set up says how long its "this wasn't me" link works and how long after it is used the app is
// turned off, and the notice that the removal is scheduled says the latter, from the times the
// caller gives (mfa.UndoTOTPTTL and the operator's mfa.Service.UndoTOTPDelay): a changed setting
// changes the mail, in every language, with German's dative after "innerhalb von".
func TestTheAuthenticatorAppNoticesSayTheTimesTheCallerGives(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	for _, c := range []struct {
		lang    string
		times   mail.UndoTimes
		added   []string
		removal string
	}{
		{"en", mail.UndoTimes{Link: 7 * day, Removal: 3 * day}, []string{"Within 7 days, open", "turns that app off 3 days later"}, "turned off 3 days later"},
		{"en", mail.UndoTimes{Link: 7 * day, Removal: 5 * day}, []string{"Within 7 days, open", "turns that app off 5 days later"}, "turned off 5 days later"},
		{"en", mail.UndoTimes{Link: 2 * day, Removal: 36 * time.Hour}, []string{"Within 2 days, open", "turns that app off 36 hours later"}, "turned off 36 hours later"},
		{"fr", mail.UndoTimes{Link: 7 * day, Removal: 3 * day}, []string{"Dans un délai de 7 jours, ouvrez", "désactive cette application 3 jours plus tard"}, "désactivée 3 jours plus tard"},
		{"fr", mail.UndoTimes{Link: 7 * day, Removal: time.Hour}, []string{"désactive cette application 1 heure plus tard"}, "désactivée 1 heure plus tard"},
		{"de", mail.UndoTimes{Link: 7 * day, Removal: 3 * day}, []string{"innerhalb von 7 Tagen den Link", "schaltet diese App 3 Tage später aus"}, "die App wird 3 Tage später ausgeschaltet"},
		{"de", mail.UndoTimes{Link: 10 * day, Removal: 12 * time.Hour}, []string{"innerhalb von 10 Tagen den Link", "schaltet diese App 12 Stunden später aus"}, "die App wird 12 Stunden später ausgeschaltet"},
	} {
		l := i18n.Choose(c.lang, "", "")
		added, ok := mail.UndoableSecurityNotice(l, "p@example.com", "totp_added", when, "https://id.example/dashboard",
			"https://id.example/account/two-step/undo?token=x", c.times)
		if !ok {
			t.Fatalf("%s: no notice of totp_added", c.lang)
		}
		for _, want := range c.added {
			if !strings.Contains(added.Text, want) || !strings.Contains(added.HTML, want) {
				t.Errorf("%s %+v: the notice of the app set up does not say %q:\n%s", c.lang, c.times, want, added.Text)
			}
		}
		removal, ok := mail.UndoableSecurityNotice(l, "p@example.com", "totp_removal_scheduled", when, "https://id.example/dashboard", "", c.times)
		if !ok || !strings.Contains(removal.Text, c.removal) || !strings.Contains(removal.HTML, c.removal) {
			t.Errorf("%s %+v: the notice of the removal does not say %q:\n%s", c.lang, c.times, c.removal, removal.Text)
		}
		for _, m := range []mail.Message{added, removal} {
			if strings.Contains(m.Text, "%!") {
				t.Errorf("%s: a notice has a broken format:\n%s", c.lang, m.Text)
			}
		}
	}
}

// TestTheTeamInvitationSaysItsTimeInDays: the invitation says how long its link works from the
// caller's time (team.InvitationTTL), in days from two on: "7 days", not "168 hours".
func TestTheTeamInvitationSaysItsTimeInDays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		lang string
		ttl  time.Duration
		want string
	}{
		{"en", 7 * day, "The link works once, for 7 days."},
		{"en", 3 * day, "The link works once, for 3 days."},
		{"en", 12 * time.Hour, "The link works once, for 12 hours."},
		{"fr", 7 * day, "pendant 7 jours."},
		{"de", 7 * day, "Der Link funktioniert einmal, 7 Tage lang."},
	} {
		m := mail.TeamInvitation(i18n.Choose(c.lang, "", ""), "bob@example.com", "https://id.example/portal/invitation?token=x", "Shop", "admin", c.ttl)
		if !strings.Contains(m.Text, c.want) || !strings.Contains(m.HTML, c.want) || strings.Contains(m.Text, "168") {
			t.Errorf("%s %v: the invitation does not say %q:\n%s", c.lang, c.ttl, c.want, m.Text)
		}
	}
}
