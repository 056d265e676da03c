package csvtable_test

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"loginsign/internal/csvtable"
)

// TestReadCarriageReturnLineEnds: a file of old Mac line ends (a lone "\r") reads as its
// lines, not one row; "\r\n" still reads as one line end, and a carriage return inside a
// quoted field stays in the field. Before, the CR-only file below was a single record (the
// header's, so an import answered "the CSV holds no rows").
func TestReadCarriageReturnLineEnds(t *testing.T) {
	for _, tt := range []struct {
		name   string
		in     string
		header map[string]int
		rows   [][]string
		lines  []int
	}{
		{name: "CR only", in: "code;e-mail\rAAAA;a@x.org\rBBBB;b@x.org\r",
			header: map[string]int{"code": 0, "email": 1}, rows: [][]string{{"AAAA", "a@x.org"}, {"BBBB", "b@x.org"}}, lines: []int{2, 3}},
		{name: "CR only, no final line end, blank lines kept in the count", in: "\r\rcode\r\rAAAA",
			header: map[string]int{"code": 0}, rows: [][]string{{"AAAA"}}, lines: []int{5}},
		{name: "CRLF is one line end", in: "code\r\nAAAA\r\n\r\nBBBB\r\n",
			header: map[string]int{"code": 0}, rows: [][]string{{"AAAA"}, {"BBBB"}}, lines: []int{2, 4}},
		{name: "CR inside a quoted field stays", in: "code,e-mail\r\"AA\rAA\",a@x.org\rBBBB,b@x.org",
			header: map[string]int{"code": 0, "email": 1}, rows: [][]string{{"AA\rAA", "a@x.org"}, {"BBBB", "b@x.org"}}, lines: []int{2, 3}},
		{name: "mixed", in: "code\rAAAA\nBBBB\r\nCCCC",
			header: map[string]int{"code": 0}, rows: [][]string{{"AAAA"}, {"BBBB"}, {"CCCC"}}, lines: []int{2, 3, 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// One byte a read, too: a CRLF split across reads is still one line end.
			for _, one := range []bool{false, true} {
				var in io.Reader = strings.NewReader(tt.in)
				if one {
					in = iotest.OneByteReader(in)
				}
				got, err := csvtable.Read(in, cols, 10)
				if err != nil {
					t.Fatal(err)
				}
				var rows [][]string
				var lines []int
				for _, row := range got.Rows {
					rows = append(rows, row.Fields)
					lines = append(lines, row.Line)
				}
				if !reflect.DeepEqual(got.Header, tt.header) || !reflect.DeepEqual(rows, tt.rows) || !reflect.DeepEqual(lines, tt.lines) {
					t.Fatalf("one byte a read %v: header %v rows %q lines %v, want %v %q %v", one, got.Header, rows, lines, tt.header, tt.rows, tt.lines)
				}
			}
		})
	}
}

// TestReadCarriageReturnFieldLimit: the field limit starts again at a lone "\r", so a CR-only
// file of many short rows is not refused as one row of too many fields, and its error names
// the line of a row that is too wide.
func TestReadCarriageReturnFieldLimit(t *testing.T) {
	row := strings.Repeat("a,", 10) + "a\r"
	if _, err := csvtable.Read(strings.NewReader("code,e-mail\r"+strings.Repeat(row, 200)), cols, 1000); err != nil {
		t.Fatalf("200 rows of 11 fields: %v", err)
	}
	_, err := csvtable.Read(strings.NewReader("code\rA\r"+strings.Repeat(",", csvtable.MaxFields)+"\r"), cols, 10)
	if err == nil || !strings.Contains(err.Error(), "bad CSV: line 3:") {
		t.Fatalf("err = %v, want bad CSV: line 3", err)
	}
}
