package ratelimit

import "testing"

// NetworkKey is the /48 of an IPv6 client (zone dropped), and nothing for IPv4 (an
// IPv4-mapped address included) or for what is not an address.
func TestNetworkKeyIsTheIPv6Slash48(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8:1:2:3:4:5:6": "2001:db8:1::/48",
		"2001:db8:1:ffff::1":   "2001:db8:1::/48",
		"fe80::1%eth0":         "fe80::/48",
		"192.0.2.7":            "",
		"::ffff:192.0.2.7":     "",
		"not an address":       "",
		"":                     "",
	} {
		got, ok := NetworkKey(in)
		if got != want || ok != (want != "") {
			t.Errorf("NetworkKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
