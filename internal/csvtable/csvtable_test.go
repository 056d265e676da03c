package csvtable_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

var cols = csvtable.Columns{"code": "code", "variant_id": "variant", "e_mail": "email"}

func TestRead(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		header  map[string]int
		rows    [][]string
		lines   []int
		empty   bool
		wantErr string
	}{
		{name: "header with aliases, any case, - and space as _", in: "Variant-ID,CODE\nv1,AAAA\n",
			header: map[string]int{"variant": 0, "code": 1}, rows: [][]string{{"v1", "AAAA"}}, lines: []int{2}},
		{name: "byte order mark before the header", in: "\ufeffcode\nAAAA\n",
			header: map[string]int{"code": 0}, rows: [][]string{{"AAAA"}}, lines: []int{2}},
		{name: "semicolons when the first line holds more of them", in: "code;e-mail\nAAAA;a@x.org\n",
			header: map[string]int{"code": 0, "email": 1}, rows: [][]string{{"AAAA", "a@x.org"}}, lines: []int{2}},
		{name: "no header: the first row is data", in: "AAAA,BBBB\n",
			rows: [][]string{{"AAAA", "BBBB"}}, lines: []int{1}},
		{name: "blank lines are skipped, lines keep their numbers", in: "code\n\n  \nAAAA\n",
			header: map[string]int{"code": 0}, rows: [][]string{{"AAAA"}}, lines: []int{4}},
		{name: "the first of duplicate columns counts", in: "code,code\nA,B\n",
			header: map[string]int{"code": 0}, rows: [][]string{{"A"}}, lines: []int{2}},
		{name: "only blanks is empty", in: "\ufeff \n\n", empty: true},
		{name: "a bare quote is Invalid with its line", in: "code\nAA\"AA\n", wantErr: "bad CSV: line 2"},
		{name: "more rows than the limit", in: "code\nA\nB\nC\nD\n", wantErr: "too many"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := csvtable.Read(strings.NewReader(tt.in), cols, 3)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.wantErr == "too many" && !errors.Is(err, csvtable.ErrTooManyRows) {
					t.Fatalf("err = %v, want ErrTooManyRows", err)
				}
				if tt.wantErr != "too many" && apperr.As(err).Code != apperr.Invalid {
					t.Fatalf("err = %v, want apperr Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Empty != tt.empty || !reflect.DeepEqual(got.Header, tt.header) {
				t.Fatalf("Empty %v header %v, want %v %v", got.Empty, got.Header, tt.empty, tt.header)
			}
			var rows [][]string
			var lines []int
			for _, r := range got.Rows {
				rows, lines = append(rows, r.Fields), append(lines, r.Line)
			}
			if !reflect.DeepEqual(rows, tt.rows) || !reflect.DeepEqual(lines, tt.lines) {
				t.Fatalf("rows %q at lines %v, want %q at %v", rows, lines, tt.rows, tt.lines)
			}
		})
	}
}
