package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DeliveryTimeout bounds one delivery attempt: connecting, sending and reading the answer.
const DeliveryTimeout = 10 * time.Second

// maxAnswerHeaderBytes bounds the header section of a receiver's answer (status line
// included). Nothing in it but Retry-After is read, and Go's default of 10 MB would let a
// receiver make each of a worker's deliveries read and hold that much.
const maxAnswerHeaderBytes = 16 << 10

// ErrForbiddenTarget is returned (wrapped) when a webhook URL resolves to an address that
// outbound requests may not reach outside dev mode.
var ErrForbiddenTarget = fmt.Errorf("webhook target address is not allowed")

// ErrAddressBudget is returned (wrapped) when a test event or redelivery would connect to a
// receiver address new to its developer today past their budget of new delivery targets
// (withAddressBudget).
var ErrAddressBudget = errors.New("too many new receiver addresses today")

// addressBudgetKey carries withAddressBudget's count in a context.
type addressBudgetKey struct{}

// addressBudget is withAddressBudget's count: take counts an address, giveBack (nil: none)
// returns the count of one whose receiver proved to serve the URL's host.
type addressBudget struct {
	take, giveBack func(ctx context.Context, address string) error
}

// withAddressBudget returns ctx in which the delivery dialer counts, with take, each public
// address (ip:port) it is about to connect to for a receiver host name, and connects to none
// that take refuses. A test event or a redelivery is sent when the developer says so, and its
// answer tells whether something listens there: the URL's host is counted against the
// developer's budget when the URL is saved (portal), but a name whose DNS the developer
// answers differently at each lookup (rebinding from one public address to the next) counted
// once, and one port of every host it named was probed. An address literal in the URL is
// counted as the URL's host, and an address the dialer refuses anyway (not public) is not
// counted: refused as it is refused otherwise, it tells nothing the log does not.
//
// giveBack, if not nil, is called with the address of a connection that answered over TLS
// verified for the URL's host (Worker.send): a server that holds a certificate for the
// developer's name is theirs to probe, and a receiver behind many rotating addresses (a CDN)
// should not spend the budget on them.
func withAddressBudget(ctx context.Context, take, giveBack func(ctx context.Context, address string) error) context.Context {
	return context.WithValue(ctx, addressBudgetKey{}, &addressBudget{take: take, giveBack: giveBack})
}

// budgetOf returns ctx's addressBudget (withAddressBudget), or nil.
func budgetOf(ctx context.Context) *addressBudget {
	b, _ := ctx.Value(addressBudgetKey{}).(*addressBudget)
	return b
}

// Resolver looks up the addresses of a receiver's host name. *net.Resolver implements it;
// tests give a fake one, which answers made-up names with the addresses they need.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// NewClient returns the HTTP client deliveries use: a 10 s timeout, no redirects followed (a
// 3xx answer is a failed attempt), answers whose headers pass 16 KiB not read on (a failed
// attempt), no proxy from the environment, and — unless allowPrivate (dev mode) — a dialer
// that refuses private, loopback, link-local, unspecified, multicast and CGNAT addresses.
// The check runs on the address actually being connected to, after DNS resolution, so a
// name that resolves (or re-resolves) to such an address cannot slip past. Names are looked
// up with net.DefaultResolver (NewClientResolving).
func NewClient(allowPrivate bool) *http.Client {
	return NewClientResolving(allowPrivate, nil)
}

// NewClientResolving is NewClient looking receivers' host names up with r (nil:
// net.DefaultResolver). Each address r answers is connected to in turn, and the dialer's
// connection-time check judges each one (refusePrivate) whatever r said.
func NewClientResolving(allowPrivate bool, r Resolver) *http.Client {
	if r == nil {
		r = net.DefaultResolver
	}
	d := &net.Dialer{Timeout: DeliveryTimeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = refusePrivate
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            resolvingDial(d, r),
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    DeliveryTimeout,
		ResponseHeaderTimeout:  DeliveryTimeout,
		MaxResponseHeaderBytes: maxAnswerHeaderBytes,
		ExpectContinueTimeout:  time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       DeliveryTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// resolvingDial returns a DialContext that looks address's host up with r (an address
// literal is used as it is) and connects with d to each address in turn, answering the
// first connection or the first address's error. A lookup that fails answers a
// *net.DNSError, whatever error r gave.
func resolvingDial(d *net.Dialer, r Resolver) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, address)
		}
		addrs, err := r.LookupIPAddr(ctx, host)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no address")
		}
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				return nil, err
			}
			return nil, &net.DNSError{Err: err.Error(), Name: host}
		}
		// As net.Dialer does with the addresses it resolves: one after the other, each
		// given an equal part of the time left (at least 2 s), so that an address that
		// never answers does not use up the attempt's whole time.
		deadline := time.Now().Add(d.Timeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		budget := budgetOf(ctx)
		var first error
		for i, a := range addrs {
			if budget != nil {
				if err := takeAddress(ctx, budget.take, a, port, d.Control == nil); err != nil {
					if first == nil {
						first = err
					}
					break
				}
			}
			part := time.Until(deadline) / time.Duration(len(addrs)-i)
			actx, cancel := context.WithTimeout(ctx, max(part, min(2*time.Second, time.Until(deadline))))
			c, err := d.DialContext(actx, network, net.JoinHostPort(a.String(), port))
			cancel()
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		return nil, first
	}
}

// oneAttemptKey marks a context whose manual send is one attempt (withOneAttempt).
type oneAttemptKey struct{}

// withOneAttempt returns ctx in which a manual send that does not deliver its event (and is
// not answered 410 Gone) fails it instead of scheduling a retry: a test event, or the
// redelivery of an event that was no longer pending. The workers' retries count nothing
// against the developer's budget of new receiver addresses (withAddressBudget), so retried,
// such a send went out up to eight more times over the next days, each time to whatever
// address the name then had. The redelivery of an event that was pending keeps its schedule:
// the workers were sending it anyway.
func withOneAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, oneAttemptKey{}, true)
}

// isOneAttempt reports whether ctx is withOneAttempt's.
func isOneAttempt(ctx context.Context) bool {
	one, _ := ctx.Value(oneAttemptKey{}).(bool)
	return one
}

// takeAddress counts address a and port with take (withAddressBudget) before the dialer
// connects there: unless allowPrivate, only an address the dialer would connect to
// (PublicAddr, not this host's). Refused, the error wraps ErrAddressBudget and take's.
func takeAddress(ctx context.Context, take func(context.Context, string) error, a net.IPAddr, port string, allowPrivate bool) error {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return nil // the dialer refuses it
	}
	ip = ip.Unmap()
	if !allowPrivate && (!PublicAddr(ip) || localAddr(ip)) {
		return nil
	}
	if err := take(ctx, net.JoinHostPort(ip.String(), port)); err != nil {
		return fmt.Errorf("%w: %w", ErrAddressBudget, err)
	}
	return nil
}

// refusePrivate is a net.Dialer Control hook: it runs with the resolved address just before
// the socket connects.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenTarget, ap.Addr())
	}
	if localAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is an address of this host", ErrForbiddenTarget, ap.Addr())
	}
	return nil
}

// interfaceAddrs lists this host's interface addresses (tests replace it).
var interfaceAddrs = net.InterfaceAddrs

// localAddr reports whether a is assigned to one of this host's interfaces. A public address
// of LoginSign's own host is reached through the loopback interface, past any firewall in
// front of it, so a webhook URL naming it reached every service listening on all addresses
// (metrics, an admin port, a database) as a loopback URL would. The interfaces are read at
// each connection (they change); if they cannot be read, nothing more is refused.
func localAddr(a netip.Addr) bool {
	addrs, err := interfaceAddrs()
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, ia := range addrs {
		var ip net.IP
		switch v := ia.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if la, ok := netip.AddrFromSlice(ip); ok && la.Unmap() == a {
			return true
		}
	}
	return false
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast (RFC 7526)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs (RFC 9602): an operator's own routers
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2002::/16"),       // 6to4 can embed any IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo can too
	// IPv4-compatible (::a.b.c.d, deprecated by RFC 4291 §2.5.5.1; ::7f00:1 is 127.0.0.1
	// to a host that still tunnels them) and IPv4-translated (::ffff:0:a.b.c.d, RFC 2765)
	// addresses carry an IPv4 address too; no public receiver uses either, so they are
	// refused whatever they carry. (IPv4-mapped ::ffff:a.b.c.d is unmapped and judged.)
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
}

// PublicAddr reports whether a may be the target of an outbound request outside dev mode: not
// private (RFC 1918, fc00::/7), loopback, link-local, unspecified, multicast, CGNAT or another
// special-purpose range. IPv4-mapped and NAT64 (64:ff9b::/96) addresses are judged by the IPv4
// address they carry; IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96) ones are
// refused.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !a.IsValid() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckTarget is the save-time companion of the connect-time check: it refuses a webhook URL
// whose host is an address outside PublicAddr, or localhost or a name under it (RFC 6761
// §6.3: always loopback), unless allowPrivate. It looks nothing up: whether an other name
// resolves, and to what, is judged by the delivery dialer at each connection, and told to
// the developer in one message whatever the cause (DescribeUnreachableHost). A save-time
// lookup would answer the developer differently for a name of LoginSign's own network that
// resolves to a private address (refused) and one that does not resolve (accepted), and in a
// different time: a map of internal names, one request per name. ctx is not used.
func CheckTarget(ctx context.Context, rawURL string, allowPrivate bool) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return fmt.Errorf("must be an absolute http(s) URL")
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if a, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(a) {
			return fmt.Errorf("%w: %s is not a public address", ErrForbiddenTarget, a)
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is a loopback name", ErrForbiddenTarget, host)
	}
	// No top-level domain is numeric: a last label of digits, or 0x and hex digits, is an
	// IPv4 address in a form some resolvers read (127.1, 2130706433, 0x7f.0.0.1).
	last := host[strings.LastIndexByte(host, '.')+1:]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return fmt.Errorf("%w: %s is an address in a form other than dotted decimal", ErrForbiddenTarget, host)
	}
	return nil
}
