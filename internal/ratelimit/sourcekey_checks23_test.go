package ratelimit_test

import (
	"testing"

	"loginsign/internal/ratelimit"
)

// TestASourceIsOneIPv4AddressOrOneIPv6Slash48: a day budget of a source counts one counter per
// party, so the /64s of a /48 are one source, an IPv4 address (mapped or not) is one, and what
// is not an address is none.
func TestASourceIsOneIPv4AddressOrOneIPv6Slash48(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2::9":      "2001:db8:1::/48",
		"2001:db8:1:ffff:1::1": "2001:db8:1::/48",
		"fe80::1%eth0":         "fe80::/48",
	} {
		if got, ok := ratelimit.SourceKey(in); !ok || got != want {
			t.Errorf("SourceKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "app_x", "2001:db8::/48", "ip:192.0.2.7"} {
		if got, ok := ratelimit.SourceKey(in); ok {
			t.Errorf("SourceKey(%q) = %q: want no source", in, got)
		}
	}
}
