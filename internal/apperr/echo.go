package apperr

import (
	"fmt"
	"unicode/utf8"
)

// MaxEcho bounds how many characters (code points) of one argument an error message shows:
// the arguments are most often what the client sent (an address, a redirect URI, an unknown
// field's name, or an error that quotes one), and a 70 KB value came back whole in the error
// JSON, twice when an error quoting it followed it.
const MaxEcho = 100

// echoHead is how many of the MaxEcho characters Echo keeps from the start; the rest come
// from the end, where an error's reason stands ("parse \"…\": invalid character \" \" in
// host name").
const echoHead = 60

// Echo is s as an error message shows it: s itself when it has at most MaxEcho characters,
// else its first 60 and last 40 characters around an ellipsis (…).
func Echo(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= MaxEcho {
		return s
	}
	head, tail := 0, len(s)
	for i := 0; i < echoHead; i++ {
		_, size := utf8.DecodeRuneInString(s[head:])
		head += size
	}
	for i := 0; i < MaxEcho-echoHead; i++ {
		_, size := utf8.DecodeLastRuneInString(s[:tail])
		tail -= size
	}
	return s[:head] + "…" + s[tail:]
}

// EchoArgs is args as New shows them in a message of format (echoArgs), for messages of
// another shape built with fmt (the OAuth errors' error_description): every text longer than
// MaxEcho characters shortened by Echo, unless format is "%s" alone.
func EchoArgs(format string, args ...any) []any { return echoArgs(format, args) }

// echoArgs is args with every text longer than MaxEcho characters shortened by Echo: a
// string, []byte, []string's elements, and the text of an error or fmt.Stringer. Other values
// (numbers for plurals, codes) pass as they are. A format that is "%s" alone passes args
// whole: it carries a message built elsewhere (a rate limit's, a catalog's sentence, another
// error's), whose input was shortened where it was formatted.
func echoArgs(format string, args []any) []any {
	if format == "%s" {
		return args
	}
	var out []any
	for i, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		case []string:
			if c, ok := echoStrings(v); ok {
				out = setArg(out, args, i, c)
			}
			continue
		default:
			continue
		}
		if utf8.RuneCountInString(s) > MaxEcho {
			out = setArg(out, args, i, Echo(s))
		}
	}
	if out == nil {
		return args
	}
	return out
}

// setArg sets args[i] to v in a copy of args made on the first change (out nil).
func setArg(out, args []any, i int, v any) []any {
	if out == nil {
		out = append([]any(nil), args...)
	}
	out[i] = v
	return out
}

// echoStrings is ss with each element shortened by Echo, and whether one was.
func echoStrings(ss []string) ([]string, bool) {
	var out []string
	for i, s := range ss {
		if utf8.RuneCountInString(s) <= MaxEcho {
			continue
		}
		if out == nil {
			out = append([]string(nil), ss...)
		}
		out[i] = Echo(s)
	}
	return out, out != nil
}
