package webhooks_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"loginsign/internal/webhooks"
)

// Special-purpose ranges that are not globally reachable (IANA special-purpose registries)
// and that PublicAddr let through: the IPv4 documentation networks, the deprecated 6to4 relay
// anycast, IPv6 benchmarking, the new IPv6 documentation prefix and SRv6 segment identifiers
// (which address an operator's own routers). A network that routes any of them internally
// (labs, SRv6 domains, addresses borrowed for internal services) was reachable through a
// developer's webhook or back-channel logout URL.
func TestNonGloballyReachableRangesAreNotPublic(t *testing.T) {
	t.Parallel()
	for _, a := range []string{
		"192.0.2.10", "198.51.100.10", "203.0.113.10", "192.88.99.1",
		"::ffff:203.0.113.10", "64:ff9b::c000:20a",
		"2001:2::1", "3fff::1", "3fff:fff::1", "5f00::1", "5f00:ffff::1",
	} {
		addr := netip.MustParseAddr(a)
		if webhooks.PublicAddr(addr) {
			t.Errorf("PublicAddr(%s) = true, want false", a)
		}
		u := "https://" + a + "/hook"
		if addr.Is6() {
			u = "https://[" + a + "]/hook"
		}
		if err := webhooks.CheckTarget(context.Background(), u, false); !errors.Is(err, webhooks.ErrForbiddenTarget) {
			t.Errorf("CheckTarget(%s) = %v, want ErrForbiddenTarget", u, err)
		}
	}
	// Their neighbours stay public.
	for _, a := range []string{"192.0.3.1", "198.51.101.1", "203.0.114.1", "2a00:1450::1", "2001:4860::8888", "3fff:1000::1"} {
		if !webhooks.PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("PublicAddr(%s) = false, want true", a)
		}
	}
}
