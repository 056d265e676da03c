package apperr

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// An argument of an error message longer than MaxEcho characters is shown as its first 60 and
// last 40 characters around an ellipsis, in Message and in MessageIn, whatever its type
// (string, []byte, []string, error); a short one, a number and a "%s" message built elsewhere
// pass whole. Before, a 70 KB value came back whole in the error JSON.
func TestLongInputsAreShortenedInErrorMessages(t *testing.T) {
	long := strings.Repeat("é", 35000) + "@example.com" // 70 KB
	short := Echo(long)
	if want := strings.Repeat("é", 60) + "…" + strings.Repeat("é", 28) + "@example.com"; short != want {
		t.Fatalf("Echo = %q, want %q", short, want)
	}
	if n := utf8.RuneCountInString(short); n != MaxEcho+1 {
		t.Errorf("Echo has %d characters, want %d", n, MaxEcho+1)
	}
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"quoted string", New(Invalid, "%q is not a valid email address", long), `"` + short + `" is not a valid email address`},
		{"with a reason", WithReason(Conflict, "already_linked", "%s is already linked to your account", long), short + " is already linked to your account"},
		{"bytes", New(Invalid, "bad %s", []byte(long)), "bad " + short},
		{"an error quoting the input keeps its reason", New(Invalid, "redirect URI: %v", errors.New(`parse "`+long+`": invalid character`)),
			`redirect URI: parse "` + strings.Repeat("é", 53) + "…" + strings.Repeat("é", 8) + `@example.com": invalid character`},
		{"list", New(Invalid, "duplicates %q", []string{"a", long}), `duplicates ["a" "` + short + `"]`},
		{"short and numbers", New(Invalid, "%q: %d", "abc", 70000), `"abc": 70000`},
		{"a message built elsewhere", New(RateLimited, "%s", strings.Repeat("x", 150)), strings.Repeat("x", 150)},
	} {
		if tc.err.Message != tc.want {
			t.Errorf("%s: Message = %.300q, want %.300q", tc.name, tc.err.Message, tc.want)
		}
		if got := tc.err.MessageIn(nil); got != tc.want {
			t.Errorf("%s: MessageIn = %.300q", tc.name, got)
		}
	}
}
