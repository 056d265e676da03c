package csvtable_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

// read reads in with the test columns and a limit of 3 rows, failing on an error.
func read(t *testing.T, in string) *csvtable.Table {
	t.Helper()
	got, err := csvtable.Read(strings.NewReader(in), cols, 3)
	if err != nil {
		t.Fatalf("Read(%q): %v", in, err)
	}
	return got
}

// fields is the Fields of every row of tb.
func fields(tb *csvtable.Table) [][]string {
	var rows [][]string
	for _, r := range tb.Rows {
		rows = append(rows, r.Fields)
	}
	return rows
}

func TestAFileOfExactlyMaxRowsIsRead(t *testing.T) {
	got := read(t, "code\nA\nB\nC\n")
	if want := [][]string{{"A"}, {"B"}, {"C"}}; !reflect.DeepEqual(fields(got), want) {
		t.Fatalf("rows %q, want %q", fields(got), want)
	}
	_, err := csvtable.Read(strings.NewReader("A\nB\nC\nD\n"), cols, 3)
	if !errors.Is(err, csvtable.ErrTooManyRows) {
		t.Fatalf("four rows without a header: err = %v, want ErrTooManyRows", err)
	}
}

func TestAFirstLineWithAsManySemicolonsAsCommasIsSplitOnCommas(t *testing.T) {
	got := read(t, "code;x,e-mail\nA;1,a@x.org\n")
	// Rows keep the columns the header names only (since stop 66; before, "A;1" too).
	if want := map[string]int{"email": 0}; !reflect.DeepEqual(got.Header, want) {
		t.Fatalf("header %v, want %v", got.Header, want)
	}
	if want := [][]string{{"a@x.org"}}; !reflect.DeepEqual(fields(got), want) {
		t.Fatalf("rows %q, want %q", fields(got), want)
	}
}

func TestAQuotedFieldAfterASpaceIsStillQuoted(t *testing.T) {
	got := read(t, "code, e-mail\nA, \"b,c\"\n")
	if want := [][]string{{"A", "b,c"}}; !reflect.DeepEqual(fields(got), want) {
		t.Fatalf("rows %q, want %q", fields(got), want)
	}
}

func TestHeaderNamesAreTrimmedAndSpacesReadAsUnderscores(t *testing.T) {
	got := read(t, "code ,E Mail\nA,a@x.org\n")
	if want := map[string]int{"code": 0, "email": 1}; !reflect.DeepEqual(got.Header, want) {
		t.Fatalf("header %v, want %v", got.Header, want)
	}
}

// Only the first row can be the header: a later row spelling a column name is data.
func TestALaterRowSpellingAColumnNameIsData(t *testing.T) {
	got := read(t, "code\ncode\nA\n")
	if want := [][]string{{"code"}, {"A"}}; !reflect.DeepEqual(fields(got), want) {
		t.Fatalf("rows %q, want %q", fields(got), want)
	}
}

// A row whose first field is blank is still a row (its caller reports what is missing);
// only a line of nothing but blanks is skipped.
func TestARowWithABlankFirstFieldIsKept(t *testing.T) {
	got := read(t, "code,variant_id\n ,v1\n")
	if len(got.Rows) != 1 || got.Rows[0].Line != 2 || got.Get(got.Rows[0], "variant", nil) != "v1" {
		t.Fatalf("rows %+v, want the row of line 2 with variant v1", got.Rows)
	}
}

func TestAnUnterminatedQuoteIsInvalidWithItsLine(t *testing.T) {
	_, err := csvtable.Read(strings.NewReader("code\n\"AAAA\n"), cols, 3)
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "bad CSV: line 2") {
		t.Fatalf("err = %v, want apperr Invalid naming line 2", err)
	}
}

// The line of a misplaced quote is where the quote is, not where its row starts.
func TestAQuoteErrorNamesTheLineOfTheQuote(t *testing.T) {
	_, err := csvtable.Read(strings.NewReader("code\n\"A\nB\"C\n"), cols, 3)
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "bad CSV: line 3:") {
		t.Fatalf("err = %v, want apperr Invalid naming line 3", err)
	}
}

func TestFieldIsTrimmedAndEmptyOutsideTheRow(t *testing.T) {
	r := csvtable.Row{Fields: []string{" A  ", "b"}}
	for i, want := range map[int]string{-1: "", 0: "A", 1: "b", 2: ""} {
		if got := r.Field(i); got != want {
			t.Errorf("Field(%d) = %q, want %q", i, got, want)
		}
	}
}

// Hostile uploads read as data or answer apperr Invalid; none panics or fails otherwise.
func TestHostileFilesAreDataOrInvalid(t *testing.T) {
	for name, in := range map[string]string{
		"huge cell":        "code\n" + strings.Repeat("A", 1<<20) + "\n",
		"many columns":     "code\n" + strings.Repeat("A,", 100000) + "\n",
		"NUL bytes":        "code\nA\x00B\n\x00\n",
		"invalid UTF-8":    "code\n\xff\xfe\xc3\n",
		"unterminated":     "code\n\"AAAA",
		"quote in a field": "code\nAA\"\n",
		"lone CRs":         "code\rA\rB\r",
		"only a BOM":       "\ufeff",
	} {
		_, err := csvtable.Read(strings.NewReader(in), cols, 3)
		if err != nil && apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: err = %v, want nil or apperr Invalid", name, err)
		}
	}
}

func TestGetReadsByOrderOnlyWithoutAHeader(t *testing.T) {
	byOrder := map[string]int{"code": 1}
	plain := read(t, "v1,AAAA\n")
	if got := plain.Get(plain.Rows[0], "code", byOrder); got != "AAAA" {
		t.Errorf("without a header: code = %q, want AAAA", got)
	}
	named := read(t, "code,variant_id\nAAAA,v1\n")
	if got := named.Get(named.Rows[0], "code", byOrder); got != "AAAA" {
		t.Errorf("with a header: code = %q, want AAAA", got)
	}
	if named.Has("email") || !named.Has("variant") {
		t.Errorf("Has(email) %v Has(variant) %v, want false true", named.Has("email"), named.Has("variant"))
	}
}
