package rest

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// TestACSVCellAfterASemicolonCannotStartWithAnEmptyQuote (review imp15): a spreadsheet whose
// list separator is ';' splits each line of the users export at every ';', and a cell that then
// starts with a '"' is read as quoted text followed by whatever comes after its closing quote.
// encoding/csv doubles a '"' of the value, so a person whose shared display name was
// `Ann;"=cmd|' /C calc'!A0;` put `""=cmd|' /C calc'!A0` at the start of a cell: an empty
// quoted text, then the formula. csvCell let the piece through, since it starts with '"'. No
// ';'-separated piece of the written line may start with '"' followed by a formula character
// once the quotes a spreadsheet drops are dropped.
func TestACSVCellAfterASemicolonCannotStartWithAnEmptyQuote(t *testing.T) {
	for _, in := range []string{
		`Ann;"=cmd|' /C calc'!A0;`,
		`Ann;""+1+1;`,
		`a;"@SUM(A1)`,
		`a;"-2+3";b`,
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
			rest := strings.TrimLeft(piece, `"`)
			if rest != piece && rest != "" && strings.ContainsRune("=+-@\t\r", rune(rest[0])) {
				t.Errorf("csvCell(%q) is written %q: the ';' piece %q starts a formula after an empty quoted text", in, line, piece)
			}
		}
	}
	for in, want := range map[string]string{`"Bob"`: `"Bob"`, `a;b`: `a;b`, `a;"b"`: `a;'"b"`} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
