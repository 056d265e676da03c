package profile_test

import (
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/profile"
)

// Every well-known way of making a name look empty is refused, alone or with others, and so is
// a blank symbol inside a name, like the Hangul fillers; a name that shows something, however
// short or unusual, is kept.
func TestANameMadeOfBlanksIsRefusedAndAVisibleOneKept(t *testing.T) {
	t.Parallel()
	for name, bad := range map[string]string{
		"Hangul choseong filler":       "\u115f",
		"Hangul jungseong filler":      "\u1160",
		"Hangul fillers":               "\u3164\u3164",
		"halfwidth Hangul filler":      "\uffa0",
		"Braille blank and a space":    "\u2800 \u2800",
		"Braille blank and a filler":   "\u2800\u3164",
		"Braille blank in a name":      "Ann\u2800Example",
		"musical null notehead":        "\U0001D159",
		"Mongolian vowel separator":    "\u180e",
		"zero-width space":             "\u200b",
		"a variation selector alone":   "\ufe0f",
		"a combining mark alone":       "\u0301",
		"Mongolian variation selector": "\u180b",
		"ideographic space, then mark": "\u3000\u0301",
	} {
		if got, err := profile.CleanName(bad); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: CleanName(%+q) = %+q, %v; want invalid_name", name, bad, got, err)
		}
	}
	for name, good := range map[string]string{
		"one letter":               "A",
		"one digit":                "7",
		"punctuation":              "...",
		"an emoji":                 "🙂",
		"an emoji with a selector": "❤\ufe0f",
		"Han":                      "李",
		"Mongolian with selector":  "ᠠ\u180b",
		"empty clears the name":    "",
		"spaces only clear it too": " \u3000 ",
	} {
		if _, err := profile.CleanName(good); err != nil {
			t.Errorf("%s: CleanName(%+q): %v; want it kept", name, good, err)
		}
	}
}
