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
