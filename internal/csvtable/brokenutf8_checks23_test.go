package csvtable_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

// TestAUTF8FileWithAStrayByteIsRefusedNotReadAsWindows1252 (review23): Decode read every
// file that was not valid UTF-8 as Windows-1252, so a UTF-8 export with one stray byte (two
// files joined, a field cut in the middle of a character) was imported with each of its
// accented names silently garbled: "René" stored as "RenÃ©". A file that holds UTF-8
// characters and as many bytes that are not is refused, naming the line, and one in
// Windows-1252 is still read as such, even with a pair of bytes that happens to be UTF-8
// ("É" and a no-break space, C9 A0). UTF-16 without its byte order mark is refused by what it is.
func TestAUTF8FileWithAStrayByteIsRefusedNotReadAsWindows1252(t *testing.T) {
	for name, in := range map[string]string{
		"a stray byte on line 3":             "user_id,email,name\n1,rene@example.com,Ren\xc3\xa9\n2,zoe@example.com,Zo\xeb\n",
		"cut in the middle of a character":   "user_id,email,name\n1,rene@example.com,Ren\xc3\xa9\n2,zoe@example.com,Zo\xc3",
		"a stray byte before the UTF-8 name": "user_id,email,name\n1,ann@example.com,Ann\x96\n2,rene@example.com,Ren\xc3\xa9\n",
	} {
		text, err := csvtable.Decode([]byte(in), 1<<20)
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "line ") {
			t.Errorf("%s: %q, %v; want Invalid naming the line", name, text, err)
		}
	}
	text, err := csvtable.Decode([]byte("user_id;email;name\r\n1;rene@example.com;Ren\xe9\r\n2;;Zo\xeb \x80 \xc9\xa0\r\n"), 1<<20)
	if err != nil || !strings.Contains(string(text), "René") || !strings.Contains(string(text), "Zoë € É\u00a0") {
		t.Errorf("Windows-1252: %q, %v", text, err)
	}
	utf16 := []byte("u\x00s\x00e\x00r\x00_\x00i\x00d\x00,\x00e\x00m\x00a\x00i\x00l\x00\n\x001\x00,\x00a\x00@\x00b\x00.\x00c\x00\n\x00")
	if _, err := csvtable.Decode(utf16, 1<<20); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("UTF-16LE without its byte order mark: %v, want Invalid naming UTF-16", err)
	}
}
