package displaytext_test

import (
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/displaytext"
)

// TestNameIsTheRuleOfEveryNameShownToPeople: displaytext.Name refuses what application names
// refused (the rule lived in the portal, so license variant names, descriptions and the
// variants a status sync creates were checked only for hidden characters), and keeps names
// that merely look like them.
func TestNameIsTheRuleOfEveryNameShownToPeople(t *testing.T) {
	for _, in := range []string{
		"LoginSign Premium", "Login-Sign Security", "ＬｏｇｉｎＳｉｇｎ", "ʟᴏɢɪɴꜱɪɢɴ", "L0g1n Sign", "LOGINSIGN PRO",
		"G\u043e\u043egle Pro",               // Cyrillic o's in a Latin word
		"Pro: renew at https://evil.example", // link
		"Gold www.evil.example",
		"Help support@evil.example",
		"Gold evil.example/renew",
		"Account locked: call +1 555 010 0199",
		"Hotline ＋１ ５５５ ０１０ ０１９９",
		"\u202enimda", // still Line's rule
	} {
		if _, err := displaytext.Name("name", in); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("Name(%q): err = %v, want Invalid", in, err)
		}
	}
	for in, want := range map[string]string{
		" Gold ": "Gold", "PREMIUM": "PREMIUM", "Season 2024-2025": "Season 2024-2025", "1-800-Flowers": "1-800-Flowers",
		"Booking.com": "Booking.com", "Яндекс Go": "Яндекс Go", "Cafe\u0301 Pass": "Caf\u00e9 Pass",
	} {
		if got, err := displaytext.Name("name", in); err != nil || got != want {
			t.Errorf("Name(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if !displaytext.SpellsLoginSign("x-L0GIN.sign") || displaytext.SpellsLoginSign("Logic Sign") {
		t.Error("SpellsLoginSign: want x-L0GIN.sign to spell LoginSign and Logic Sign not")
	}
}
