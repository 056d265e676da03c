package rest

import (
	"strings"
	"testing"
)

// TestACSVCellNeutralisesFormulasAfterASemicolon: a spreadsheet in a locale whose list
// separator is ';' (German, French, …) opens a .csv by splitting its lines at every ';', and
// encoding/csv quotes a field for a ',' or '"' but not for a ';'. A person whose display name
// (shared with the profile scope, written into the developer's users export) was
// "Ann;=cmd|' /C calc'!A0;" put the cell "=cmd|' /C calc'!A0" into the developer's sheet:
// csvCell looked only at the first character of the whole value. Every ';'-separated piece
// that starts like a formula gets the apostrophe, as the value's start does.
func TestACSVCellNeutralisesFormulasAfterASemicolon(t *testing.T) {
	for _, in := range []string{
		"Ann;=cmd|' /C calc'!A0;",
		"Ann;+1+1",
		"a;-2+3",
		"a;@SUM(A1)",
		"a;\t=1",
		"=1;=2",
		"a;;=1",
	} {
		out := csvCell(in)
		for i, piece := range strings.Split(out, ";") {
			if piece != "" && piece != "-" && strings.ContainsRune("=+-@\t\r", rune(piece[0])) {
				t.Errorf("csvCell(%q) = %q: piece %d %q starts a formula in a ';' spreadsheet", in, out, i, piece)
			}
		}
	}
	for in, want := range map[string]string{"": "", "-": "-", "Ann": "Ann", "=1": "'=1", "a;b": "a;b", "a; =1": "a;' =1"} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
