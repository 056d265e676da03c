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
// before bytes that are not UTF-8 answers apperr Invalid. The caller bounds b (the route's
// body limit, before decoding); decoded, the text may grow (a Windows-1252 "€" is three bytes
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
	case !utf8.Valid(b):
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
