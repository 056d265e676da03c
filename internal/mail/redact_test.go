package mail_test

import (
	"testing"

	"loginsign/internal/mail"
)

func TestRedactAddresses(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"550 5.1.1 <ann@example.com>: User unknown":           "550 5.1.1 <•••@example.com>: User unknown",
		"RCPT TO:<Ann.Private+tag@Example.COM> refused":       "RCPT TO:<•••@Example.COM> refused",
		"to ann@example.com, bob@mail.example.net; done":      "to •••@example.com, •••@mail.example.net; done",
		`"Ann" <ann@example.com>`:                             `"Ann" <•••@example.com>`,
		"user zoë@bücher.example rejected":                    "user •••@bücher.example rejected",
		"literal ann@[192.0.2.1] rejected":                    "literal •••@[192.0.2.1] rejected",
		"from o'brien@example.ie":                             "from •••@example.ie",
		"a trailing ann@":                                     "a trailing •••@",
		`550 <"ann smith"@example.com> unknown`:               "550 <•••@example.com> unknown",
		`RCPT TO:<"a\"b@c"@example.com>`:                      "RCPT TO:<•••@example.com>",
		`said "no such user" to ann@example.com`:              `said "no such user" to •••@example.com`,
		"dial tcp 127.0.0.1:587: connect: connection refused": "dial tcp 127.0.0.1:587: connect: connection refused",
	} {
		if got := mail.RedactAddresses(in); got != want {
			t.Errorf("RedactAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}
