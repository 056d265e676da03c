package page_test

import (
	"strings"
	"testing"

	"loginsign/internal/i18n"
	"loginsign/internal/mfa"
	"loginsign/internal/portal"
	"loginsign/internal/web/page"
)

// TestScriptMessagesSayTheTimesTheCodeEnforces: the script messages a page embeds state how
// long a mailed confirmation code works (mfa.ChangeCodeTTL), a passkey's confirmation
// (mfa.PasskeyConfirmationTTL) and a replaced webhook secret still signs
// (portal.WebhookSecretOverlap), written from those constants in the page's language, and no
// message is left with a placeholder of a time for the script to show. Before, the catalogs
// wrote "10 minutes", "5 minutes" and "24 hours" themselves.
func TestScriptMessagesSayTheTimesTheCodeEnforces(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "fr", "de"} {
		l := i18n.Choose(lang, "", "")
		msgs := page.Frame{L: l, Messages: []string{"dashboard.", "security.", "passkey.", "portal."}}.ScriptMessages()
		for key, want := range map[string]string{
			"ls.code_sent":                l.ScriptT("ls.code_sent", map[string]any{"code_ttl": l.Period(mfa.ChangeCodeTTL)}),
			"ls.passkey_confirmed":        l.ScriptT("ls.passkey_confirmed", map[string]any{"confirmation_ttl": l.Period(mfa.PasskeyConfirmationTTL)}),
			"portal.webhook_secret_after": l.ScriptT("portal.webhook_secret_after", map[string]any{"secret_overlap": l.Period(portal.WebhookSecretOverlap)}),
		} {
			if got := msgs[key]; got != want {
				t.Errorf("%s %s = %q, want %q", lang, key, got, want)
			}
		}
		// The catalogs hold the placeholder, not a time of their own.
		for key, name := range map[string]string{"ls.code_sent": "code_ttl", "ls.passkey_confirmed": "confirmation_ttl",
			"portal.webhook_secret_after": "secret_overlap"} {
			if raw, _ := l.Script(key)[key].(string); !strings.Contains(raw, "{"+name+"}") {
				t.Errorf("%s %s = %q, want the time as {%s}", lang, key, raw, name)
			}
		}
		for key, m := range msgs {
			var texts []string
			switch m := m.(type) {
			case string:
				texts = []string{m}
			case i18n.Plural:
				for _, s := range m {
					texts = append(texts, s)
				}
			}
			for _, s := range texts {
				for name := range page.ScriptPeriods() {
					if strings.Contains(s, "{"+name+"}") {
						t.Errorf("%s %s keeps {%s} for the script: %q", lang, key, name, s)
					}
				}
			}
		}
	}
}
