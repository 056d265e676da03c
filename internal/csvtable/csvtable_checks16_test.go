package csvtable_test

import (
	"io"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// A row of nothing but delimiters is refused as invalid, with its line, before the rest of
// the file is read: encoding/csv splits a whole row before returning it, at some 160 bytes of
// allocations a field, so 8 MiB of commas (one import body) cost over a gigabyte.
func TestARowOfTooManyFieldsIsRefusedBeforeItIsSplit(t *testing.T) {
	for _, sep := range []string{",", ";"} {
		in := &countingReader{r: strings.NewReader("code" + sep + "variant\nA" + sep + "B\n" + strings.Repeat(sep, 8<<20) + "\n")}
		tb, err := csvtable.Read(in, cols, 10000)
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "line 3: more than 1024 fields") {
			n := 0
			if tb != nil && len(tb.Rows) > 1 {
				n = len(tb.Rows[1].Fields)
			}
			t.Fatalf("sep %q: err = %v (a row of %d fields), want Invalid naming line 3", sep, err, n)
		}
		if in.n > 64<<10 {
			t.Errorf("sep %q: %d bytes read before the refusal, want the row refused as it is read", sep, in.n)
		}
	}
}

// The limit counts fields, not delimiters inside quoted fields, and a row of exactly
// MaxFields fields is read (since stop 66 its named columns alone are kept: code here; before,
// the limit was 64 and the row was kept whole).
func TestRowsUpToSixtyFourFieldsAndQuotedDelimitersAreRead(t *testing.T) {
	row64 := strings.Repeat("x,", csvtable.MaxFields-1) + "x"
	quoted := `"` + strings.Repeat(",", 5000) + "\n" + strings.Repeat(`"",`, 1100) + `",B`
	got := read(t, "code,variant\n"+row64+"\n"+quoted+"\n")
	if len(got.Rows) != 2 || len(got.Rows[0].Fields) != 1 || len(got.Rows[1].Fields) != 1 {
		t.Fatalf("rows %d (%q), want 2 rows of the one named field kept", len(got.Rows), fields(got))
	}
	_, err := csvtable.Read(strings.NewReader("code,variant\n"+row64+",x\n"), cols, 3)
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a row of 65 fields: err = %v, want Invalid naming line 2", err)
	}
}
