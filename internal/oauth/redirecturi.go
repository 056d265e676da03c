package oauth

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"loginsign/internal/displaytext"
)

// CheckRedirectURI enforces RFC 9700 §2.1: an absolute URI without fragment or wildcard; https,
// or http only on a loopback host (RFC 8252 §7.3). Private-use schemes of native apps
// (com.example.app:/callback) are allowed. Like every URI LoginSign stores, it holds no space,
// control or format character (CheckURIText) and its port is 1 to 65535 (PortInRange).
func CheckRedirectURI(raw string) error {
	if raw == "" || len(raw) > 2048 {
		return fmt.Errorf("must be 1 to 2048 characters")
	}
	if err := CheckURIText(raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("must be an absolute URI")
	}
	if !PortInRange(u.Port()) {
		return fmt.Errorf("the port must be a number from 1 to 65535")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("must not contain a fragment")
	}
	if strings.Contains(raw, "*") {
		return fmt.Errorf("wildcards are not allowed")
	}
	if u.User != nil {
		return fmt.Errorf("must not contain user information")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("must have a host")
		}
		if !hostName(u.Hostname()) {
			return fmt.Errorf("the host must be a DNS name (letters, digits, hyphens) or an IP address")
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("http is allowed only for localhost, 127.0.0.1 and [::1]; use https")
		}
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("scheme %q is not allowed", u.Scheme)
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("use https, http on loopback, or a reverse-domain private-use scheme")
		}
	}
	return nil
}

// privateUseScheme reports whether raw is a URI of a scheme other than http and https (the
// reverse-domain schemes of native apps, RFC 8252 §7.1).
func privateUseScheme(raw string) bool {
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	return scheme != "http" && scheme != "https"
}

// dnsLabels is a host name of letter-digit-hyphen labels (RFC 1123 §2.1; underscores too, which
// some internal names carry), in any case.
var dnsLabels = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)*$`)

// hostName reports whether h, a redirect URI's host, is a DNS name or an IP address (no zone).
// url.Parse lets other characters through (";", ",", "'"), and the host's origin is written
// into the pages' Content-Security-Policy (form-action, the embeds' frame-ancestors), where
// ";" would start a directive of the developer's choosing.
func hostName(h string) bool {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	return len(h) <= 253 && dnsLabels.MatchString(h)
}

// CheckURIText refuses a URI that holds a space (any Unicode space), a control character or a
// format character such as U+202E RIGHT-TO-LEFT OVERRIDE (displaytext.Hidden), anywhere. None
// is part of a URI (RFC 3986 §2: a space is sent as %20), and url.Parse lets them through into
// what is stored, compared exactly and shown to people as a link.
func CheckURIText(raw string) error {
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || displaytext.Hidden(r) }) >= 0 {
		return fmt.Errorf("must not contain spaces, control or invisible formatting characters (write a space as %%20)")
	}
	return nil
}

// PortInRange reports whether port, a URL's port as url.URL.Port returns it, is empty or a
// number from 1 to 65535 written without a leading zero. url.Parse checks only that it is
// digits, so "https://app.example:99999/" parses.
func PortInRange(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n >= 1 && port[0] != '0'
}
