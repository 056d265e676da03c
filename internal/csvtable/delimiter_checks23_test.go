package csvtable_test

import (
	"slices"
	"strings"
	"testing"

	"loginsign/internal/csvtable"
)

// TestADelimiterInsideAQuotedFieldDoesNotChooseTheFilesDelimiter (review23): the delimiter
// was chosen by counting commas, semicolons and tabs over the whole first line, quoted fields
// included, so a comma-separated file whose first row (a file without a header, whose first
// line is data) quoted a note holding tabs was read as tab-separated: its row came out as one
// field, or the file was refused as bad CSV; and a semicolon-separated one whose first row
// quoted "Doe, Jane, Jr." was read as comma-separated. Only delimiters outside quotes count.
func TestADelimiterInsideAQuotedFieldDoesNotChooseTheFilesDelimiter(t *testing.T) {
	cols := csvtable.Columns{"user_id": "user_id", "email": "email", "name": "name"}
	for _, tc := range []struct {
		name, in string
		want     [][]string
	}{
		{"commas, a quoted field with tabs",
			"1,ann@example.com,\"Ann\tB.\tC.\tD.\"\n2,bob@example.com,Bob\n",
			[][]string{{"1", "ann@example.com", "Ann\tB.\tC.\tD."}, {"2", "bob@example.com", "Bob"}}},
		{"semicolons, a quoted field with commas",
			"1;jane@example.com;\"Doe, Jane, Jr.\"\n2;bob@example.com;Bob\n",
			[][]string{{"1", "jane@example.com", "Doe, Jane, Jr."}, {"2", "bob@example.com", "Bob"}}},
		{"tabs, a quoted field with commas and semicolons",
			"1\tjane@example.com\t\"Doe, Jane; Jr., III\"\n",
			[][]string{{"1", "jane@example.com", "Doe, Jane; Jr., III"}}},
		{"a header, then commas",
			"user_id,email,name\n1,ann@example.com,\"Ann\tB.\tC.\tD.\"\n",
			[][]string{{"1", "ann@example.com", "Ann\tB.\tC.\tD."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := csvtable.Read(strings.NewReader(tc.in), cols, 10)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var got [][]string
			for _, r := range tab.Rows {
				got = append(got, r.Fields)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal[[]string]) {
				t.Errorf("rows %q, want %q", got, tc.want)
			}
		})
	}
}
