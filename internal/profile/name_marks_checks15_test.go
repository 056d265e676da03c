package profile_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/profile"
)

// A name could stack every one of its 200 characters' worth of combining marks on one letter
// ("Zalgo" text): "Z" and 199 marks of U+0336, U+0489 or the like passed CleanName and were
// drawn dozens of lines above and below the name, over the other rows and the buttons of the
// pages that list it (a team's members, a developer's users, the consent page), and over the
// passkey list for a passkey's name. The writing systems that stack marks need a few; more
// than profile.MaxNameMarks on one character is refused with invalid_name, joiners between the
// marks or not.
func TestANameCannotStackDozensOfMarksOnOneCharacter(t *testing.T) {
	t.Parallel()
	tooMany := strings.Repeat("\u0336", profile.MaxNameMarks+1)
	for name, bad := range map[string]string{
		"Zalgo":                      "Z" + strings.Repeat("\u0336\u0489\u0353\u0315", 49),
		"one over the bound":         "Ann" + tooMany + " Example",
		"enclosing marks":            "A" + strings.Repeat("\u20dd", profile.MaxNameMarks+1),
		"variation selectors":        "A" + strings.Repeat("\ufe0f", profile.MaxNameMarks+1),
		"joiners between the marks":  "A" + strings.Repeat("\u0301\u0336\u0489\u200d", profile.MaxNameMarks),
		"marks with nothing beneath": tooMany + "Ann",
	} {
		if got, err := profile.CleanName(bad); !apperr.Is(err, apperr.Invalid) || apperr.As(err).Reason != "invalid_name" {
			t.Errorf("%s: CleanName(%+q) = %+q, %v; want invalid_name", name, bad, got, err)
		}
	}
	for name, good := range map[string]string{
		"Tibetan stack":              "ཧྨྱཱུ",
		"Hebrew points":              "שָׁלוֹם",
		"Vietnamese, decomposed":     "Nguye\u0302\u0303n",
		"keycap":                     "Ann 1\ufe0f\u20e3",
		"Devanagari":                 "क्\u200dष",
		"the bound on one character": "A" + strings.Repeat("\u0301", profile.MaxNameMarks) + "nn",
		"the bound on every letter":  strings.Repeat("a"+strings.Repeat("\u0323", profile.MaxNameMarks), 20),
	} {
		if _, err := profile.CleanName(good); err != nil {
			t.Errorf("%s: CleanName(%+q): %v; want it kept", name, good, err)
		}
	}
}
