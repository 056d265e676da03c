package csvtable_test

import (
	"reflect"
	"strings"
	"testing"

	"loginsign/internal/csvtable"
)

// Windows PowerShell's Export-Csv -Encoding UTF8 writes a byte order mark and quotes every field.
func TestAByteOrderMarkBeforeAQuotedHeaderIsDropped(t *testing.T) {
	got, err := csvtable.Read(strings.NewReader("\ufeff\"code\",\"variant_id\"\r\n\"AAAA\",\"v1\"\r\n"), cols, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"code": 0, "variant": 1}; !reflect.DeepEqual(got.Header, want) {
		t.Fatalf("header %v, want %v", got.Header, want)
	}
}

// Blank lines are skipped everywhere, also before the header: not only the first 4096 bytes decide.
func TestManyLeadingBlankLinesDoNotMakeAFileEmpty(t *testing.T) {
	got, err := csvtable.Read(strings.NewReader(strings.Repeat("\n", 5000)+"code\nAAAA\n"), cols, 3)
	if err != nil || got.Empty || len(got.Rows) != 1 {
		t.Fatalf("Empty %v, %d rows, err %v; want one row", got != nil && got.Empty, len(got.Rows), err)
	}
}

// The first line that holds anything picks the delimiter and can be the header.
func TestALeadingBlankLineDoesNotHideASemicolonHeader(t *testing.T) {
	for _, in := range []string{"\ncode;e-mail\nAAAA;a@x.org\n", " \ncode\nAAAA\n"} {
		got, err := csvtable.Read(strings.NewReader(in), cols, 3)
		if err != nil || got.Header == nil || len(got.Rows) != 1 {
			t.Errorf("%q: header %v, %d rows, err %v; want the header and one row", in, got.Header, len(got.Rows), err)
		}
	}
}

// Lines are numbered from the file's first line, the skipped blank lines and a byte order
// mark included: a row's Line and a quote error's line say where to look in the file.
func TestLinesCountTheSkippedBlankLines(t *testing.T) {
	got, err := csvtable.Read(strings.NewReader("\ufeff\n \r\ncode\n\nAAAA\nBBBB\n"), cols, 3)
	if err != nil || got.Header == nil || len(got.Rows) != 2 || got.Rows[0].Line != 5 || got.Rows[1].Line != 6 {
		t.Fatalf("rows %+v, header %v, err %v; want the header and rows at lines 5 and 6", got.Rows, got.Header, err)
	}
	_, err = csvtable.Read(strings.NewReader("\n\ncode\n\"AAAA\n"), cols, 3)
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("unterminated quote on line 4 after two blank lines: %v", err)
	}
	many := strings.Repeat(" \n", 3000) + "code\nAAAA\n" // past one buffer of blank lines
	got, err = csvtable.Read(strings.NewReader(many), cols, 3)
	if err != nil || len(got.Rows) != 1 || got.Rows[0].Line != 3002 {
		t.Fatalf("after 3,000 blank lines: rows %+v, err %v; want one row at line 3002", got.Rows, err)
	}
}
