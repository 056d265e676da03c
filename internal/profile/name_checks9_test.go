package profile_test

import (
	"testing"

	"loginsign/internal/profile"
)

// CleanName refuses "the default-ignorable fillers (U+3164 HANGUL FILLER and the like) that
// make a name look empty": a person listed on a team, or in a developer's users list, under a
// name that shows as nothing. U+2800 BRAILLE PATTERN BLANK is the best known such filler (the
// usual "invisible name" of games and chat apps): a symbol (So), neither space nor
// default-ignorable, it renders as a blank cell in every font. A name made only of it passes.
func TestANameThatShowsAsNothingIsRefused(t *testing.T) {
	for _, name := range []string{"\u2800", "\u2800\u2800\u2800", "\u3164", "\uffa0"} {
		if got, err := profile.CleanName(name); err == nil {
			t.Errorf("CleanName(%+q) = %+q, nil; want invalid_name: the name shows as nothing", name, got)
		}
	}
}
