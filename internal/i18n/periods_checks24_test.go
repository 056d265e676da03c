package i18n

import (
	"strings"
	"testing"
	"time"
)

// TestScriptWithWritesTheTimesTheCallerGives: a script message states a time the code enforces
// through a placeholder the page fills from the constant (ScriptWith, Locale.Period), in every
// plural form: given another time, the message says it. Before, "It works once, for 10
// minutes" and "for 24 hours with the previous secret too" were the catalogs' own words.
func TestScriptWithWritesTheTimesTheCallerGives(t *testing.T) {
	for _, c := range []struct {
		lang, key string
		periods   map[string]time.Duration
		want      string
	}{
		{"en", "ls.code_sent", map[string]time.Duration{"code_ttl": 10 * time.Minute}, "It works once, for 10 minutes."},
		{"en", "ls.code_sent", map[string]time.Duration{"code_ttl": 20 * time.Minute}, "It works once, for 20 minutes."},
		{"fr", "ls.code_sent", map[string]time.Duration{"code_ttl": time.Hour}, "Il ne sert qu’une fois, pendant 1 heure."},
		{"de", "ls.code_sent", map[string]time.Duration{"code_ttl": 15 * time.Minute}, "Er gilt einmal, 15 Minuten lang."},
		{"en", "ls.passkey_confirmed", map[string]time.Duration{"confirmation_ttl": 2 * time.Minute}, "It works once, for 2 minutes: go on."},
		{"de", "ls.passkey_confirmed", map[string]time.Duration{"confirmation_ttl": 5 * time.Minute}, "Das gilt einmal, 5 Minuten lang:"},
		{"en", "portal.webhook_secret_after", map[string]time.Duration{"secret_overlap": 24 * time.Hour}, "and for 24 hours with the previous secret too"},
		{"en", "portal.webhook_secret_after", map[string]time.Duration{"secret_overlap": 48 * time.Hour}, "and for 2 days with the previous secret too"},
		{"fr", "portal.webhook_secret_after", map[string]time.Duration{"secret_overlap": 72 * time.Hour}, "et pendant 3 jours aussi avec le secret précédent"},
		{"de", "portal.webhook_secret_after", map[string]time.Duration{"secret_overlap": 72 * time.Hour}, "signiert, 3 Tage lang auch noch"},
	} {
		l := Choose(c.lang, "", "")
		got, _ := l.ScriptWith(c.periods, "ls.", "portal.")[c.key].(string)
		if !strings.Contains(got, c.want) || strings.Contains(got, "_ttl}") || strings.Contains(got, "{secret_overlap}") {
			t.Errorf("%s %s with %v = %q, want it to say %q", c.lang, c.key, c.periods, got, c.want)
		}
	}
	// A placeholder that is not a time stays for the script.
	l := Choose("en", "", "")
	if got := l.ScriptWith(map[string]time.Duration{"code_ttl": time.Minute}, "ls.")["ls.code_sent"]; got != "We mailed a code to {email}. It works once, for 1 minute." {
		t.Errorf("ls.code_sent = %q, want {email} kept for the script", got)
	}
	// Every plural form is filled (the charts' {days}, here given as a time for the test).
	forms, _ := l.ScriptWith(map[string]time.Duration{"days": 3 * 24 * time.Hour}, "portal.")["portal.stat_signups"].(Plural)
	if forms["one"] != "sign-up, last 3 days days" || forms["other"] != "sign-ups, last 3 days days" {
		t.Errorf("a Plural with a time: %v", forms)
	}
	if orig := scriptEN["portal.stat_signups"].(Plural); orig["one"] != "sign-up, last {days} days" {
		t.Errorf("ScriptWith changed the catalog: %v", orig)
	}
}
