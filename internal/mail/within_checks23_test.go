package mail_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// TestTheProposedTransfersNoticeSaysTheTimeTheCallerGives: the member proposed the ownership is
// told how long they have from the AppNotice's Within (team.TransferTTL), in every language:
// whole days from two days on, hours below, so the mail says what the code enforces.
func TestTheProposedTransfersNoticeSaysTheTimeTheCallerGives(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		lang   string
		within time.Duration
		want   string
	}{
		{"en", 3 * 24 * time.Hour, "You have 3 days to accept"},
		{"fr", 3 * 24 * time.Hour, "Vous avez 3 jours pour"},
		{"de", 3 * 24 * time.Hour, "Sie haben 3 Tage, um"},
		{"en", 7 * 24 * time.Hour, "You have 7 days to accept"},
		{"en", 36 * time.Hour, "You have 36 hours to accept"},
		{"de", 24 * time.Hour, "Sie haben 24 Stunden, um"},
	} {
		m, ok := mail.AppSecurityNotice(i18n.Choose(c.lang, "", ""), "member@example.com", mail.AppNotice{
			Event: "app_transfer_proposed", App: "Acme Notes", Actor: "an•••@example.com", About: "me•••@example.com",
			When: time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC), Link: "https://id.example/portal/apps/app_1",
			Concerned: true, Within: c.within})
		if !ok || !strings.Contains(m.Text, c.want) || !strings.Contains(m.HTML, c.want) {
			t.Errorf("%s, %v: the notice does not say %q:\n%s", c.lang, c.within, c.want, m.Text)
		}
	}
}
