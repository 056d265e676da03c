package webhooks

import (
	"errors"
	"net"
	"testing"
)

// TestAnAddressOfThisHostIsRefusedEvenWhenPublic: the dialer refused private and loopback
// addresses but connected to a public address assigned to LoginSign's own host, which the
// kernel routes through loopback, past the firewall in front of the host: a webhook URL
// naming the host's public address (or a name resolving to it) reached every service that
// listens on all addresses, and the delivery log showed the start of their error answers.
// (Not parallel: it replaces the interface list for the whole package.)
func TestAnAddressOfThisHostIsRefusedEvenWhenPublic(t *testing.T) {
	saved := interfaceAddrs
	t.Cleanup(func() { interfaceAddrs = saved })
	interfaceAddrs = func() ([]net.Addr, error) {
		return []net.Addr{
			&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("198.1.2.3").To4(), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("2a00:1450::5"), Mask: net.CIDRMask(64, 128)},
		}, nil
	}
	for _, addr := range []string{"198.1.2.3:443", "[::ffff:198.1.2.3]:443", "[2a00:1450::5]:8080"} {
		if err := refusePrivate("tcp", addr, nil); !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("refusePrivate(%s), an address of this host: %v, want ErrForbiddenTarget", addr, err)
		}
	}
	// Another address of the same network is not this host's.
	for _, addr := range []string{"198.1.2.4:443", "[2a00:1450::6]:443"} {
		if err := refusePrivate("tcp", addr, nil); err != nil {
			t.Errorf("refusePrivate(%s): %v, want nil", addr, err)
		}
	}
}
