package csvtable

import (
	"bytes"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"loginsign/internal/apperr"
)

// Decode returns the text of an uploaded CSV file b as UTF-8, in the encodings spreadsheets
// save: UTF-8, with or without a byte order mark (Excel's "CSV UTF-8"), as it is; UTF-16 with
// its byte order mark (Excel's "Unicode Text", little-endian, or big-endian), decoded, the mark
// dropped; anything else that is not valid UTF-8 read as Windows-1252 (Excel's plain "CSV" on
// Windows in western languages, whose "é" is the single byte 0xE9). A UTF-8 byte order mark
// before bytes that are not UTF-8 answers apperr Invalid, and so does a file that is not
// valid UTF-8 but holds characters of UTF-8 (brokenUTF8: a UTF-8 file with a stray byte, whose
// "é" read as Windows-1252 would be stored as "Ã©" in every name), or NUL bytes (UTF-16
// without its mark). The caller bounds b (the route's body limit, before decoding); decoded,
// the text may grow (a Windows-1252 "€" is three bytes
// of UTF-8), so more than limit bytes of it answer apperr TooLarge, read no further than limit+1.
func Decode(b []byte, limit int) ([]byte, error) {
	var dec transform.Transformer
	switch {
	case bytes.HasPrefix(b, []byte("\xef\xbb\xbf")):
		if !utf8.Valid(b) {
			return nil, apperr.New(apperr.Invalid, "the CSV starts with a UTF-8 byte order mark but is not UTF-8")
		}
	case bytes.HasPrefix(b, []byte("\xff\xfe")):
		dec = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	case bytes.HasPrefix(b, []byte("\xfe\xff")):
		dec = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()
	case bytes.IndexByte(b, 0) >= 0:
		return nil, apperr.New(apperr.Invalid, "the CSV contains a NUL character, as UTF-16 text without its byte order mark does; save the file as \"CSV UTF-8\"")
	case !utf8.Valid(b):
		if at, ok := brokenUTF8(b); ok {
			return nil, apperr.New(apperr.Invalid, "the CSV is UTF-8 but line %d holds bytes that are not; save the file as \"CSV UTF-8\"", at)
		}
		dec = charmap.Windows1252.NewDecoder()
	}
	if dec == nil {
		if len(b) > limit {
			return nil, tooLarge(limit)
		}
		return b, nil
	}
	out, err := io.ReadAll(io.LimitReader(transform.NewReader(bytes.NewReader(b), dec), int64(limit)+1))
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "the CSV could not be read: %v", err)
	}
	if len(out) > limit {
		return nil, tooLarge(limit)
	}
	return out, nil
}

func tooLarge(limit int) error {
	return apperr.New(apperr.TooLarge, "the CSV is larger than %d bytes once read as UTF-8", limit)
}

// brokenUTF8 reports whether b, which is not valid UTF-8, reads as UTF-8 with a few bytes out
// of place (a UTF-8 file with a stray byte, or cut in the middle of a character) rather than as
// Windows-1252: it holds at least as many characters of two or more bytes of valid UTF-8 as
// bytes that are not. Windows-1252 text is mostly bytes that are not UTF-8 ("é" is E9 before
// a letter) and seldom a pair that is (an upper-case accented letter before a symbol or a
// no-break space: "É" and NBSP are C9 A0), so a file with both is read by its majority. It
// also returns the 1-based line of the first byte that is not UTF-8.
func brokenUTF8(b []byte) (int, bool) {
	multi, bad, first := 0, 0, -1
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			if first < 0 {
				first = i
			}
			bad++
		case n > 1:
			multi++
		}
		i += n
	}
	if multi == 0 || multi < bad {
		return 0, false
	}
	return bytes.Count(b[:first], []byte("\n")) + 1, true
}
