package mail

import (
	netmail "net/mail"
	"strings"

	"loginsign/internal/apperr"
)

// NormalizeAddress trims and lower-cases an address and checks that it is a bare addr-spec
// (no display name) of at most 254 characters whose domain has a dot (or is localhost). It is
// the one address rule: accounts (identity.NormalizeEmail) and team invitations use it.
func NormalizeAddress(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", apperr.New(apperr.Invalid, "email is required")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 ||
		!strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", apperr.New(apperr.Invalid, "%q is not a valid email address", s)
	}
	return s, nil
}

// MailboxKey is the mailbox a normalized address delivers to, as the per-address limits count
// it (sign-in links, address confirmations, team invitations): lower-cased, without the
// "+tag" of its local part, and for Gmail (gmail.com, googlemail.com) without the dots of its
// local part, under gmail.com. So "victim+1@example.com" and "victim+2@example.com", or
// "v.ictim@googlemail.com" and "victim@gmail.com", share one budget. It is only a counter's
// name: mail goes to the address as given.
func MailboxKey(email string) string {
	email = strings.ToLower(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return email
	}
	local, domain := email[:at], email[at+1:]
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
