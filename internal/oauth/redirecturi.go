package oauth

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"loginsign/internal/displaytext"
)

// AuthorizationResponseParams are the parameters the authorization endpoint adds to a redirect
// URI's query: code and state (RFC 6749 §4.1.2), error, error_description and error_uri
// (§4.1.2.1), and iss (RFC 9207 §2).
var AuthorizationResponseParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

// CheckRedirectURI enforces RFC 9700 §2.1: an absolute URI without fragment or wildcard; https,
// or http only on a loopback host (RFC 8252 §7.3). Private-use schemes of native apps
// (com.example.app:/callback) are allowed. Like every URI LoginSign stores, it holds no space,
// control or format character (CheckURIText) and its port is 1 to 65535 (PortInRange). Its
// query carries none of AuthorizationResponseParams (CheckOwnQuery).
func CheckRedirectURI(raw string) error {
	if err := checkURI(raw); err != nil {
		return err
	}
	return CheckOwnQuery(raw, AuthorizationResponseParams...)
}

// CheckPostLogoutRedirectURI is CheckRedirectURI for a post_logout_redirect_uri, whose query
// may carry anything but state, the one parameter the end-session endpoint adds to it
// (RP-Initiated Logout 1.0 §3).
func CheckPostLogoutRedirectURI(raw string) error {
	if err := checkURI(raw); err != nil {
		return err
	}
	return CheckOwnQuery(raw, "state")
}

// CheckSavedRedirectURI is CheckRedirectURI and CheckPostLogoutRedirectURI for a URI an
// application saved before: its query is not checked (CheckOwnQuery), as the answer puts its
// own parameters in place of the query's (appendQuery), so that a URI saved before the rule
// does not block the application's other edits.
func CheckSavedRedirectURI(raw string) error { return checkURI(raw) }

// CheckOwnQuery refuses a URI whose query already holds a parameter named one of names,
// which LoginSign adds there: the client would receive the parameter twice, and which of
// the two it reads depends on its library (Go and Java take the first, PHP the last), so the
// registered value could stand in for the code, the state or the issuer it checks (RFC 9207;
// the OAuth security BCP's issue 72; Keycloak CVE-2026-9689). Names are compared decoded
// ("c%6Fde" is code), as the client reads them.
func CheckOwnQuery(raw string, names ...string) error {
	if name := ownParam(raw, names); name != "" {
		return fmt.Errorf("must not carry %s in its query: LoginSign's answer adds it", name)
	}
	return nil
}

// ownParam is the first parameter of raw's query, decoded, that is one of names; "" for none.
func ownParam(raw string, names []string) string {
	_, query, ok := strings.Cut(raw, "?")
	if !ok {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	for seg := range strings.SplitSeq(query, "&") {
		if name := paramName(seg); slices.Contains(names, name) {
			return name
		}
	}
	return ""
}

// paramName is the name of seg, a name=value segment of a query, decoded as a client's
// parser decodes it (as it is when it holds a bad escape).
func paramName(seg string) string {
	name, _, _ := strings.Cut(seg, "=")
	if n, err := url.QueryUnescape(name); err == nil {
		return n
	}
	return name
}

// checkURI is CheckRedirectURI but for the query's parameters.
func checkURI(raw string) error {
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
