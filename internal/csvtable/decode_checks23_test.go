package csvtable_test

import (
	"bytes"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

// utf16le is s (ASCII, plus the escapes é and € below) as Windows writes "Unicode Text":
// little-endian code units after the byte order mark FF FE, spelled out byte by byte.
func utf16le(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		switch r {
		case 'é':
			out = append(out, 0xe9, 0x00)
		case '€':
			out = append(out, 0xac, 0x20)
		default:
			out = append(out, byte(r), 0x00)
		}
	}
	return out
}

// TestSpreadsheetEncodingsAreReadAsTheirText (review helper cost23, checks23): Excel on
// Windows saves "CSV" in Windows-1252 (é is the byte E9, € the byte 80) and "Unicode Text" as
// tab-separated UTF-16LE with a byte order mark; both were refused as "the CSV is not valid
// UTF-8", so a developer's export of their users could not be imported as saved. They are
// now read as their text: UTF-8 as it is (with or without its mark), UTF-16 after its mark,
// anything else that is not UTF-8 as Windows-1252, and a tab-separated first line makes tabs
// the delimiter. A UTF-8 mark before bytes that are not UTF-8 is refused (Invalid), and a
// text that grows past the limit once decoded answers TooLarge.
func TestSpreadsheetEncodingsAreReadAsTheirText(t *testing.T) {
	cols := csvtable.Columns{"user_id": "user_id", "email": "email", "name": "name"}
	want := [][]string{{"1", "rene@example.com", "René"}, {"2", "", "Zoë €"}}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"UTF-8", []byte("user_id,email,name\r\n1,rene@example.com,Ren\xc3\xa9\r\n2,,Zo\xc3\xab \xe2\x82\xac\r\n")},
		{"UTF-8 with its mark (Excel's CSV UTF-8)", []byte("\xef\xbb\xbfuser_id;email;name\r\n1;rene@example.com;Ren\xc3\xa9\r\n2;;Zo\xc3\xab \xe2\x82\xac\r\n")},
		{"Windows-1252 (Excel's CSV)", []byte("user_id;email;name\r\n1;rene@example.com;Ren\xe9\r\n2;;Zo\xeb \x80\r\n")},
		{"UTF-16LE, tab-separated (Excel's Unicode Text)", append(utf16le("user_id\temail\tname\r\n1\trene@example.com\tRené\r\n2\t\tZo"), append([]byte{0xeb, 0x00}, utf16le(" €\r\n")[2:]...)...)},
		{"UTF-16BE with its mark", []byte("\xfe\xff\x00u\x00s\x00e\x00r\x00_\x00i\x00d\x00,\x00e\x00m\x00a\x00i\x00l\x00,\x00n\x00a\x00m\x00e\x00\n" +
			"\x001\x00,\x00r\x00e\x00n\x00e\x00@\x00e\x00x\x00a\x00m\x00p\x00l\x00e\x00.\x00c\x00o\x00m\x00,\x00R\x00e\x00n\x00\xe9\x00\n" +
			"\x002\x00,\x00,\x00Z\x00o\x00\xeb\x00 \x20\xac\x00\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := csvtable.Decode(tc.in, 1<<20)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tab, err := csvtable.Read(bytes.NewReader(text), cols, 10)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var got [][]string
			for _, r := range tab.Rows {
				got = append(got, []string{tab.Get(r, "user_id", nil), tab.Get(r, "email", nil), tab.Get(r, "name", nil)})
			}
			if len(got) != len(want) || strings.Join(got[0], "|") != strings.Join(want[0], "|") || strings.Join(got[1], "|") != strings.Join(want[1], "|") {
				t.Errorf("rows = %q, want %q", got, want)
			}
		})
	}

	if _, err := csvtable.Decode([]byte("\xef\xbb\xbfname\nRen\xe9\n"), 1<<20); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("a UTF-8 mark before Windows-1252 bytes: %v, want Invalid", err)
	}
	// 1,000 euro signs of Windows-1252 (one byte each) are 3,000 bytes of UTF-8.
	euros := bytes.Repeat([]byte{0x80}, 1000)
	if _, err := csvtable.Decode(euros, 2999); apperr.CodeOf(err) != apperr.TooLarge {
		t.Errorf("1,000 bytes that decode to 3,000 under a limit of 2,999: %v, want TooLarge", err)
	}
	if text, err := csvtable.Decode(euros, 3000); err != nil || len(text) != 3000 {
		t.Errorf("the same under a limit of 3,000: %d bytes, %v", len(text), err)
	}
	if _, err := csvtable.Decode([]byte("name\nAnn\n"), 5); apperr.CodeOf(err) != apperr.TooLarge {
		t.Errorf("UTF-8 past the limit: %v, want TooLarge", err)
	}
}

// TestTabSeparatedEmptyFieldsKeepTheirPlace (checks23): with tabs as the delimiter, an empty
// field between two tabs is a field, not white space before the next one.
func TestTabSeparatedEmptyFieldsKeepTheirPlace(t *testing.T) {
	cols := csvtable.Columns{"user_id": "user_id", "email": "email", "name": "name"}
	tab, err := csvtable.Read(strings.NewReader("1\t\tAnn\n"), cols, 10)
	if err != nil {
		t.Fatal(err)
	}
	order := map[string]int{"user_id": 0, "email": 1, "name": 2}
	if r := tab.Rows[0]; tab.Get(r, "email", order) != "" || tab.Get(r, "name", order) != "Ann" {
		t.Errorf("1<TAB><TAB>Ann = %q, want email empty and name Ann", r.Fields)
	}
}
