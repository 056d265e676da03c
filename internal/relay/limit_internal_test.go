package relay

import "testing"

func TestPeerKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"", "unknown"},
	} {
		if got := peerKey(tc.remote); got != tc.want {
			t.Errorf("peerKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
