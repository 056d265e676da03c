// Package displaytext is the rule for short text that a developer or an application's backend
// writes and LoginSign shows to people: application names, license variant names and
// descriptions. It refuses what would hide or reorder the rest on the pages and mails that
// show it, so what a person reads is what was stored.
package displaytext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"loginsign/internal/apperr"
)

// Hidden reports whether r is never part of one line of text shown to a person: a control
// character (newlines and NUL included), a format character (Unicode Cf: bidirectional
// overrides, embeddings and isolates such as U+202E, zero-width spaces and joiners, the byte
// order mark, tag characters), or a line or paragraph separator (U+2028, U+2029). An override
// makes "\u202enimda" show as "admin"; the others hide text or break the line.
func Hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Blank reports whether r shows as empty space: a space of any kind (unicode.IsSpace, Zs), or
// one of the characters that are not spaces to Unicode but are drawn as nothing or as a blank
// (blankLetters). The Hangul fillers are letters (Lo), so a check that keeps letters and
// drops spaces reads "Login\u3164Sign" as one word that is not "LoginSign", while a page
// shows "Login Sign"; and a check for "one word, no spaces" passes "Account\u2800locked".
func Blank(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || blankLetters[r]
}

// blankLetters are the characters outside Zs that fonts draw blank or not at all: the
// Hangul fillers (U+115F, U+1160, U+3164, U+FFA0; NFKC maps the last two to U+1160), the
// Braille pattern blank (U+2800), the Khmer inherent vowels (U+17B4, U+17B5) and the musical
// null notehead (U+1D159).
var blankLetters = map[rune]bool{0x115F: true, 0x1160: true, 0x3164: true, 0xFFA0: true, 0x2800: true,
	0x17B4: true, 0x17B5: true, 0x1D159: true}

// Line returns s trimmed and in Unicode NFC (the same text is the same string, whichever way
// the keyboard composed it), or apperr Invalid when s is not UTF-8 or holds a Hidden
// character after trimming. what names the text in the message ("name", "description").
// Length limits are the caller's, on the returned string.
func Line(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", apperr.New(apperr.Invalid, "%s is not valid UTF-8", what)
	}
	if strings.IndexFunc(s, Hidden) >= 0 {
		return "", apperr.New(apperr.Invalid, "%s must be one line without control or invisible formatting characters", what)
	}
	return norm.NFC.String(s), nil
}
