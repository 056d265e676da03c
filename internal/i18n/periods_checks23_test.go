package i18n

import (
	"regexp"
	"testing"
	"time"

	"golang.org/x/text/language"
)

// stillWritten are the messages that still write a time of their own, each left for a reason
// (none since the words24 stop); a message added to this list needs one.
var stillWritten = map[string]string{}

// aTimeInWords is a number, in digits or words, of seconds, minutes, hours or days, in English,
// French or German, or "a day", "the next hour" and the like.
var aTimeInWords = regexp.MustCompile(`(?i)\b(\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|un|une|deux|trois|quatre|cinq|sept|huit|dix|quinze|trente|ein|eine|einen|einem|zwei|drei|vier|fünf|sechs|sieben|acht|zehn|zwölf|dreißig|next)\s+(seconds?|minutes?|hours?|days?|secondes?|heures?|jours?|Sekunden?|Minuten?|Stunden?|Tagen?|Tag)\b|l’heure qui vient|nächste Stunde`)

// TestNoMessageWritesATimeTheCodeEnforcesInItsOwnWords: how long a link or code works, how long
// until an authenticator app is turned off, how long an invitation is open are arguments of
// their messages, written from the constant or the operator's setting (Locale.Period), never
// "seven days", "three days", "168 hours" or "10 minutes" in a catalog's text: changed in the
// code, the mail would go on saying the old time. Days, hours, minutes and seconds, in digits
// or in words, in every language.
func TestNoMessageWritesATimeTheCodeEnforcesInItsOwnWords(t *testing.T) {
	for _, cats := range []map[language.Tag]map[string]any{catalogs, scriptCatalogs} {
		for tag, cat := range cats {
			for key, msg := range cat {
				var texts []string
				switch m := msg.(type) {
				case string:
					texts = []string{m}
				case Plural:
					for _, s := range m {
						texts = append(texts, s)
					}
				}
				for _, s := range texts {
					if _, known := stillWritten[key]; known || !aTimeInWords.MatchString(s) {
						continue
					}
					t.Errorf("%s %s writes a time itself (%q): %q", tag, key, aTimeInWords.FindString(s), s)
				}
			}
		}
	}
}

// TestPeriodWritesDaysFromTwoOnAndTheGermanDativeAfterAPreposition: a time the code enforces is
// written in whole days from two days on, else in hours or minutes, with each language's plural;
// German, after "innerhalb von", takes the dative plural "Tagen".
func TestPeriodWritesDaysFromTwoOnAndTheGermanDativeAfterAPreposition(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		lang          string
		d             time.Duration
		period, datif string
	}{
		{"en", 7 * day, "7 days", "7 days"},
		{"en", 3 * day, "3 days", "3 days"},
		{"en", day, "24 hours", "24 hours"},
		{"en", 36 * time.Hour, "36 hours", "36 hours"},
		{"en", time.Hour, "1 hour", "1 hour"},
		{"en", 10 * time.Minute, "10 minutes", "10 minutes"},
		{"fr", 7 * day, "7 jours", "7 jours"},
		{"fr", 2 * day, "2 jours", "2 jours"},
		{"fr", time.Hour, "1 heure", "1 heure"},
		{"de", 7 * day, "7 Tage", "7 Tagen"},
		{"de", 3 * day, "3 Tage", "3 Tagen"},
		{"de", 36 * time.Hour, "36 Stunden", "36 Stunden"},
		{"de", time.Hour, "1 Stunde", "1 Stunde"},
	} {
		l := Choose(c.lang, "", "")
		if got := l.Period(c.d); got != c.period {
			t.Errorf("%s Period(%v) = %q, want %q", c.lang, c.d, got, c.period)
		}
		if got := l.PeriodDative(c.d); got != c.datif {
			t.Errorf("%s PeriodDative(%v) = %q, want %q", c.lang, c.d, got, c.datif)
		}
	}
}
