package displaytext

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"loginsign/internal/apperr"
)

// Name returns s as Line does, or apperr Invalid when it is text that would pass for
// LoginSign's own words on the pages and in the mails that show it to people: one that spells
// LoginSign (SpellsLoginSign: in any case, spacing or punctuation, "Login-Sign Security"; in
// fullwidth, mathematical or small-capital letters, "ＬｏｇｉｎＳｉｇｎ", "𝐋𝐨𝐠𝐢𝐧𝐒𝐢𝐠𝐧",
// "ʟᴏɢɪɴꜱɪɢɴ"; with accents, a dotless ı or digits for letters, "LoginSıgn", "L0g1n Sign"),
// one with a word mixing scripts whose letters look alike ("Gооgle" with Cyrillic o's:
// mixedScriptWord), one holding a link or an address a plain-text mail would show as a link
// (linkInName), or a phone number (phoneInName). It is the rule of every name or label a
// developer or an application's backend writes for people to read: application names,
// license variant names and descriptions (also those a status sync creates). what names the
// text in the messages ("name", "description"); length limits are the caller's.
func Name(what, s string) (string, error) {
	s, err := Line(what, s)
	if err != nil {
		return "", err
	}
	if SpellsLoginSign(s) {
		return "", apperr.New(apperr.Invalid, "%s: text containing LoginSign is reserved: people would take it for LoginSign's own", what)
	}
	if w := mixedScriptWord(s); w != "" {
		return "", apperr.New(apperr.Invalid, "%s: %q mixes letters of different scripts (Latin, Cyrillic, Greek…) that look alike; write each word in one script", what, w)
	}
	if linkInName.MatchString(cases.Fold().String(norm.NFKC.String(s))) {
		return "", apperr.New(apperr.Invalid, "%s: a link or an email address cannot be part of text LoginSign shows to people", what)
	}
	if phoneInName(s) {
		return "", apperr.New(apperr.Invalid, "%s: a phone number cannot be part of text LoginSign shows to people", what)
	}
	return s, nil
}

// SpellsLoginSign reports whether s, read letter by letter (nameSkeleton), contains
// LoginSign.
func SpellsLoginSign(s string) bool {
	return strings.Contains(nameSkeleton(s), reservedSkeleton)
}

// phoneRun finds, in a name's compatibility form (NFKC: fullwidth digits become plain ones),
// a run of digits with what phone numbers are written with between them (spaces, dots,
// dashes of any kind, slashes, parentheses), after an optional "+".
//
// Between the digits it also takes what reads as such a separator without being one to
// Unicode: the minus sign and other dash-like symbols (U+2212, U+2043, U+2E3A…), middle
// dots and bullets (·, •, ‧, ∙, ⋅), connector punctuation (_, ‿), the tilde and the vertical
// bar, and the characters drawn blank (Blank: Hangul fillers, the Braille blank).
// "555−010−0199" or "555·010·0199" reads, and is dialled, as a phone number all the same.
var phoneRun = regexp.MustCompile(`\+?[(\p{Nd}][\p{Nd}\s\p{Zs}\p{Pd}\p{Pc}()./\x{2212}\x{2043}\x{2E3A}\x{2E3B}\x{00B7}\x{2022}\x{2027}\x{2219}\x{22C5}\x{30FB}~|\x{115F}\x{1160}\x{3164}\x{FFA0}\x{2800}\x{17B4}\x{17B5}]*\p{Nd}`)

// yearRange is a run that is two years, "2024-2025" or "1999/2000": a name may hold one.
var yearRange = regexp.MustCompile(`^(19|20)\d\d\s*[\p{Pd}/\x{2212}~]\s*(19|20)\d\d$`)

// phoneInName reports whether name holds what mail programs and phones turn into a number to
// call: a run (phoneRun) of at least 7 digits that is not a range of years. Names are written
// into mails LoginSign sends to any address a developer names (team invitations) and into the
// sign-in mail's subject: "Account locked: call +1 555 010 0199" read, tappable, as LoginSign's
// own support line. Names with fewer digits stay ("1-800-Flowers", "7-Eleven", "Notes 2024").
func phoneInName(name string) bool {
	for _, run := range phoneRun.FindAllString(norm.NFKC.String(name), -1) {
		digits := 0
		for _, r := range run {
			if unicode.IsDigit(r) {
				digits++
			}
		}
		if digits >= 7 && !yearRange.MatchString(run) {
			return true
		}
	}
	return false
}

// linkInName finds, in a name's compatibility form (NFKC) case-folded, what mail programs turn
// into a link in a plain-text mail: a URL ("https://…", "ｈｔｔｐｓ：／／…"), a "www." word, an
// email address, or a host with a path ("evil.example/confirm"). Names are written into
// mails LoginSign sends to any address a developer names (team invitations) and to people
// signing in (the sign-in mail's subject and first line), where "Acme: confirm at
// https://evil.example/confirm" read as LoginSign's own link. A host followed by a port, a
// query or a fragment ("evil.example:8443/confirm", "evil.example?token=1") is linked as
// well. A bare domain ("Booking.com", "Booking.com?") stays a name.
var linkInName = regexp.MustCompile(`://|(^|[^\pL\pN])www\.|[^\s@]@[^\s@]+\.[^\s@]|[\pL\pN-]\.\pL[\pL\pN-]*(:\d+)?(/|[?#]\S)`)

// reservedSkeleton is the nameSkeleton of LoginSign.
var reservedSkeleton = nameSkeleton("LoginSign")

// nameSkeleton is how name reads, letter by letter, for the reserved-name check: its
// compatibility form (NFKC: fullwidth and mathematical letters become plain ones), case-folded,
// decomposed with the accents dropped, its letters and digits only, each mapped through
// lookalikeLetters. Letters and digits that pass for each other end up the same: i, l, 1 and I
// are all l, 0 and o are o.
func nameSkeleton(name string) string {
	s := norm.NFKD.String(cases.Fold().String(norm.NFKC.String(name)))
	var b strings.Builder
	for _, r := range s {
		if m, ok := lookalikeLetters[r]; ok {
			r = m
		}
		if (unicode.IsLetter(r) || unicode.IsDigit(r)) && !Blank(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lookalikeLetters maps what NFKC and case folding leave apart but reads as a Latin letter
// (Unicode TS #39 confusables): the Latin small capitals (ʟᴏɢɪɴꜱ…), the dotless ı and ȷ, the
// script ɡ, the vertical strokes that pass for l, and the digits that pass for letters. i and
// 1 map to l, which a sans-serif capital I (folded to i) also passes for.
var lookalikeLetters = map[rune]rune{
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'l', 'ᴊ': 'j',
	'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ꞯ': 'q', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't',
	'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z',
	'ı': 'l', 'i': 'l', 'ȷ': 'j', 'ɡ': 'g', 'ǀ': 'l', '|': 'l', '1': 'l', '0': 'o',
}

// lookalikeScripts are the scripts with letters that pass for each other's (Unicode TS #39's
// confusables: Cyrillic о and Latin o, Greek Α and Latin A, Armenian օ, Cherokee Ꭺ).
var lookalikeScripts = []*unicode.RangeTable{unicode.Latin, unicode.Cyrillic, unicode.Greek, unicode.Armenian, unicode.Cherokee}

// mixedScriptWord returns the first word of name (letters, marks and digits between anything
// else) with letters of two lookalikeScripts, or "". A word in one script, and words of
// different scripts side by side ("Яндекс Go", "LINEマンガ"), pass: only a mixed word is a
// way to spell a brand with letters that are not its own.
func mixedScriptWord(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r)
	})
	for _, word := range words {
		script := -1
		for _, r := range word {
			for i, t := range lookalikeScripts {
				if !unicode.Is(t, r) {
					continue
				}
				if script >= 0 && script != i {
					return word
				}
				script = i
			}
		}
	}
	return ""
}
