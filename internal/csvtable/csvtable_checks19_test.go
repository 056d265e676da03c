package csvtable_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"loginsign/internal/csvtable"
)

// wide19 is an export of n columns, the ones a format reads among them (a CRM's contacts
// with every property: HubSpot's "all properties" export has some 200 columns), and rows
// rows.
func wide19(n, rows int, named map[int]string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if name, ok := named[i]; ok {
			b.WriteString(name)
		} else {
			fmt.Fprintf(&b, "property %d", i)
		}
	}
	for r := range rows {
		b.WriteByte('\n')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "r%dc%d", r, i)
		}
	}
	return b.String() + "\n"
}

// An export wider than 64 columns is read: its named columns, wherever they are, and rows
// keep those alone. Before, a file of more than 64 columns was refused whole ("more than 64
// fields in a row"), so a developer had to cut a CRM's or a shop's export down by hand.
func TestAWideExportIsReadAndKeepsItsNamedColumnsOnly(t *testing.T) {
	in := wide19(200, 3, map[int]string{17: "Code", 150: "Variant ID"})
	tb, err := csvtable.Read(strings.NewReader(in), cols, 3)
	if err != nil {
		t.Fatalf("an export of 200 columns: %v", err)
	}
	for i, r := range tb.Rows {
		if got, want := tb.Get(r, "code", nil)+" "+tb.Get(r, "variant", nil), fmt.Sprintf("r%dc17 r%dc150", i, i); got != want {
			t.Errorf("row %d: code and variant %q, want %q", i+1, got, want)
		}
		if len(r.Fields) != 2 {
			t.Errorf("row %d keeps %d fields, want the 2 named", i+1, len(r.Fields))
		}
	}
}

// The wider limit keeps what a table holds small: 10,000 rows of MaxFields fields (about an
// 8 MiB import body's worth of commas) keep one field a row, not 10 million, and not the
// bytes of the rest of each row.
func TestAWideFileKeepsAFewFieldsARow(t *testing.T) {
	row := strings.Repeat(",", csvtable.MaxFields-1)
	in := "code\n" + strings.Repeat("A"+row+"\n", 10000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb, err := csvtable.Read(strings.NewReader(in), cols, 10000)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := 0
	for _, r := range tb.Rows {
		kept += len(r.Fields)
	}
	if kept != 10000 {
		t.Fatalf("the table keeps %d fields, want 10000 (one a row)", kept)
	}
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > 4<<20 {
		t.Errorf("the table of 10,000 rows of %d fields holds %d MiB, want under 4", csvtable.MaxFields, held>>20)
	}
	runtime.KeepAlive(tb)
}
