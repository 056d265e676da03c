package i18n

import (
	"regexp"
	"testing"
)

// TestNoMessageWritesANumberOfDaysItself: a lifetime the code enforces (an ownership transfer's
// team.TransferTTL) is an argument of its message, written from the constant, never a number
// of days in the catalog's text, in any language: changed in the code, the mail would go on
// telling the member the old one.
func TestNoMessageWritesANumberOfDaysItself(t *testing.T) {
	days := regexp.MustCompile(`\b\d+\s+(days?|jours?|Tagen?)\b`)
	for tag, cat := range catalogs {
		for key, msg := range cat {
			if s, ok := msg.(string); ok && days.MatchString(s) {
				t.Errorf("%s %s writes a number of days itself: %q", tag, key, s)
			}
		}
	}
}
