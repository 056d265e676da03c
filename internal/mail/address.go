package mail

import (
	netmail "net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"loginsign/internal/apperr"
	"loginsign/internal/displaytext"
)

// NormalizeAddress trims and lower-cases an address, puts it in Unicode NFC (RFC 6532 §3.1:
// one mailbox, one string, however the keyboard composed it), and checks that it is a bare
// addr-spec (no display name) of at most 254 characters that mail can be sent to: no space,
// control or format character anywhere ("a@exa\u202emple.com" shows as another domain), and a
// domain that mailDomain accepts. It is the one address rule: accounts
// (identity.NormalizeEmail) and team invitations use it. The answer to anything else is
// apperr Invalid.
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.New(apperr.Invalid, "email is required")
	}
	bad := func() error { return apperr.New(apperr.Invalid, "%q is not a valid email address", s) }
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || displaytext.Hidden(r) }) >= 0 {
		return "", bad()
	}
	s = norm.NFC.String(strings.ToLower(s))
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !mailDomain(s[strings.LastIndexByte(s, '@')+1:]) {
		return "", bad()
	}
	return s, nil
}

// mailDomain reports whether d, the lower-cased NFC domain of an address, is a DNS name:
// labels valid for IDNA 2008 registration (letters of any script, digits, inner hyphens; no
// empty label, none over 63 bytes once in ASCII), at least one dot and no root dot, and a top
// label that does not end in a number as URL parsers read one ("127.0.0.1", "1.0x7f" are IPv4
// addresses, WHATWG URL §3.5). So no IP literal ("[127.0.0.1]") either: mail to an address is
// mail to its domain's MX host, never to a host the sender names. localhost is the one
// dotless name accepted, as before (internal/identity's TestNormalizeEmail specifies it).
func mailDomain(d string) bool {
	if d == "localhost" {
		return true
	}
	if !strings.Contains(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	if _, err := idna.Registration.ToASCII(d); err != nil {
		return false
	}
	return !endsInNumber(d[strings.LastIndexByte(d, '.')+1:])
}

// endsInNumber reports whether label, a lower-case top label, is a number to a URL parser:
// decimal digits, or 0x and hexadecimal digits.
func endsInNumber(label string) bool {
	digits, base := label, "0123456789"
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		digits, base = rest, "0123456789abcdef"
	}
	return strings.Trim(digits, base) == ""
}

// MailboxKey is the mailbox a normalized address delivers to, as the per-address limits count
// it (sign-in links, address confirmations, team invitations): lower-cased, without the
// "+tag" of its local part, and for Gmail (gmail.com, googlemail.com) without the dots of its
// local part, under gmail.com. So "victim+1@example.com" and "victim+2@example.com", or
// "v.ictim@googlemail.com" and "victim@gmail.com", share one budget. An internationalised
// domain counts in its ASCII form, as DNS and mail servers write it: "victim@bücher.example"
// and "victim@xn--bcher-kva.example" are one mailbox, and each spelling had a budget of its
// own. It is only a counter's name: mail goes to the address as given.
func MailboxKey(email string) string {
	email = strings.ToLower(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return email
	}
	local, domain := email[:at], email[at+1:]
	if a, err := idna.Lookup.ToASCII(domain); err == nil {
		domain = a
	}
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		domain = "gmail.com"
		if l := strings.ReplaceAll(local, ".", ""); l != "" {
			local = l
		}
	}
	return local + "@" + domain
}

// OnDomain reports whether addr is an address on domain (ignoring case); never for an empty
// domain. It tells LoginSign's relay addresses (LOGINSIGN_RELAY_DOMAIN) from others, which no
// account and no team invitation may take (identity.NotRelayAddress, team.Service.Invite).
func OnDomain(addr, domain string) bool {
	at := strings.LastIndexByte(addr, '@')
	return domain != "" && at >= 0 && strings.EqualFold(addr[at+1:], domain)
}
