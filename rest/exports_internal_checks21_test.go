package rest

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode"
)

// TestACSVCellNeutralisesAFormulaBehindWhiteSpace (review import21): a person's display name
// may hold a ';' followed by a space (CleanName trims only the ends), and encoding/csv neither
// quotes a field for a ';' nor for a space inside it. A spreadsheet whose list separator is ';'
// splits the users export there, and one that trims the spaces around a cell (LibreOffice's
// "Trim spaces", Google Sheets, CSV-to-XLSX converters) then reads the cell " =cmd|' /C
// calc'!A0" as the formula =cmd|…: csvCell looked only at the piece's first character, a space.
// A piece that starts like a formula once its leading white space (any Unicode space: a name
// may hold U+00A0 or U+3000 after the ';') is trimmed gets the apostrophe before it, as one
// without the space does; so does one that starts with '"' after white space (the empty quoted
// text of TestACSVCellAfterASemicolonCannotStartWithAnEmptyQuote).
func TestACSVCellNeutralisesAFormulaBehindWhiteSpace(t *testing.T) {
	for _, in := range []string{
		"Ann; =cmd|' /C calc'!A0",
		"Ann;  +1+1",
		"Ann;\u00a0=1+1",
		"a;\u3000@SUM(A1)",
		"a; -2+3;b",
		`a; "=1`,
	} {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{"id", csvCell(in), "x"})
		w.Flush()
		line := strings.TrimSuffix(buf.String(), "\n")
		for i, piece := range strings.Split(line, ";") {
			if i == 0 {
				continue // starts with the row's id, not a cell of its own
			}
			rest := strings.TrimLeft(strings.TrimLeftFunc(piece, unicode.IsSpace), `"`)
			if rest != "" && strings.ContainsRune("=+-@", rune(rest[0])) {
				t.Errorf("csvCell(%q) is written %q: the ';' piece %q starts a formula once its spaces are trimmed", in, line, piece)
			}
		}
	}
	// Text that only holds a space, and the list's lone "-" behind one, stay as they are.
	for in, want := range map[string]string{"Ann Lee": "Ann Lee", "a; b": "a; b", "a; -": "a; -", "-": "-",
		"a; =1": "a;' =1", "\t": "'\t", "=1": "'=1"} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
