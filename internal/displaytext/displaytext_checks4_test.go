package displaytext_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/displaytext"
)

func TestLineTrimsAndComposes(t *testing.T) {
	for in, want := range map[string]string{
		"  Cafe\u0301 Bar \n": "Caf\u00e9 Bar",
		"Ann Lee":             "Ann Lee",
		"名前 🙂":                "名前 🙂",
	} {
		got, err := displaytext.Line("name", in)
		if err != nil || got != want {
			t.Errorf("Line(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLineRefusesHiddenCharactersAnywhere(t *testing.T) {
	for _, in := range []string{
		"\u202enimda",  // right-to-left override, first
		"a\nb",         // newline inside
		"a\x00b",       // NUL
		"a\u200bb",     // zero-width space (Cf)
		"a\ufeffb",     // byte order mark (Cf)
		"a\U000E0041b", // tag character (Cf)
		"a\u2028b",     // line separator (Zl)
		"a\u2029b",     // paragraph separator (Zp)
		"admin\u2066x", // left-to-right isolate, last but one
	} {
		_, err := displaytext.Line("name", in)
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "name must be one line") {
			t.Errorf("Line(%q): err = %v, want Invalid \"name must be one line…\"", in, err)
		}
	}
}

func TestLineRefusesBytesThatAreNotUTF8(t *testing.T) {
	_, err := displaytext.Line("description", "caf\xe9")
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "description is not valid UTF-8") {
		t.Fatalf("err = %v, want Invalid \"description is not valid UTF-8\"", err)
	}
}
