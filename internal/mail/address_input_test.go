package mail_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/mail"
)

// TestNormalizeAddressTakesOnlyMailableAddresses: the one address rule (sign-in, added and
// changed addresses, invitations, imports, an app's record) refuses, with apperr Invalid, what
// net/mail accepts but no mail reaches or a person misreads: hidden characters anywhere, IP
// literals and numeric hosts, dotless names and malformed labels. Letters of any script stay
// welcome, and an address is kept in one form: lower case, NFC.
func TestNormalizeAddressTakesOnlyMailableAddresses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, in string }{
		{"a right-to-left override in the domain", "a@exa\u202emple.com"},
		{"a right-to-left override as the local part", "\u202e@x.com"},
		{"a zero-width space in the domain", "a@ex\u200bample.com"},
		{"a zero-width joiner in the local part", "a\u200db@example.com"},
		{"a byte order mark", "\ufeffa@example.com"},
		{"a line separator", "a@example.com\u2028x"},
		{"a no-break space in the local part", "a\u00a0b@example.com"},
		{"a control character", "a\x7f@example.com"},
		{"invalid UTF-8", "a\xff@example.com"},
		{"an IPv4 literal", "a@[127.0.0.1]"},
		{"an IPv6 literal", "a@[IPv6:::1]"},
		{"a dotted IPv4 address", "a@127.0.0.1"},
		{"a hexadecimal last label", "a@10.0x7f"},
		{"a dotless domain", "a@intranet"},
		{"an empty label", "a@a..com"},
		{"a root dot", "a@example.com."},
		{"a label starting with a hyphen", "a@-a.example.com"},
		{"an underscore in the domain", "a@a_b.example.com"},
		{"a label over 63 characters", "a@" + strings.Repeat("a", 64) + ".com"},
		{"bad punycode", "a@xn--a.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := mail.NormalizeAddress(tt.in); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("NormalizeAddress(%q) = %q, %v; want Invalid", tt.in, got, err)
			}
		})
	}
	for _, tt := range []struct{ name, in, want string }{
		{"trimmed and lower-cased", " Ann@Example.COM ", "ann@example.com"},
		{"letters of other scripts", "zoë@bücher.example", "zoë@bücher.example"},
		{"Cyrillic", "иван@пример.рф", "иван@пример.рф"},
		{"punycode", "a@xn--bcher-kva.example", "a@xn--bcher-kva.example"},
		{"decomposed letters composed (NFC)", "zoe\u0308@bu\u0308cher.example", "zoë@bücher.example"},
		{"digits in labels", "a@1password.example", "a@1password.example"},
		{"localhost, as before", "a@localhost", "a@localhost"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := mail.NormalizeAddress(tt.in); err != nil || got != tt.want {
				t.Fatalf("NormalizeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
