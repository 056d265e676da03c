package httpx

import (
	"net"
	"net/url"
	"strings"
)

// Origin returns u's origin as browsers serialise it (RFC 6454): the scheme and host in lower
// case and the scheme's default port left out (https://login.example.com for
// HTTPS://Login.Example.com:443). SameOrigin compares issuers in it.
func Origin(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil && ((scheme == "https" && port == "443") || (scheme == "http" && port == "80")) {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]" // an IPv6 literal keeps its brackets
		}
	}
	return scheme + "://" + host
}

// SameOrigin reports whether a and b, both origin URLs (an issuer), name the same origin once
// written as browsers write it (Origin): an issuer signed while LOGINSIGN_BASE_URL was kept
// with an upper-case host (before it was kept in lower case) is still this issuer, and one
// with its default port, which another writing of the same origin may have, too.
func SameOrigin(a, b string) bool {
	if a == b {
		return true
	}
	ua, err := url.Parse(a)
	if err != nil || ua.Host == "" || (ua.Path != "" && ua.Path != "/") || ua.RawQuery != "" || ua.User != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil || ub.Host == "" || (ub.Path != "" && ub.Path != "/") || ub.RawQuery != "" || ub.User != nil {
		return false
	}
	return Origin(ua) == Origin(ub)
}
