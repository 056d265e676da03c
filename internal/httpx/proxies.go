package httpx

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"loginsign/internal/auth"
)

// Proxies are the peers whose forwarding header is believed (LOGINSIGN_TRUSTED_PROXIES), and
// which header they write (LOGINSIGN_FORWARDED_HEADER). The zero value trusts nobody: every
// request's address is its TCP peer.
type Proxies struct {
	nets []netip.Prefix
	// forwarded: the proxies write Forwarded (RFC 7239); otherwise X-Forwarded-For.
	forwarded bool
}

// ParseProxies parses a comma-separated list of CIDR prefixes or single addresses, such as
// "10.0.0.0/8, 192.168.1.10, fd00::/8", and the header those proxies write: "x-forwarded-for"
// (or "", the default: nginx's $proxy_add_x_forwarded_for, HAProxy's forwardfor, cloud load
// balancers) or "forwarded" (RFC 7239). Only that header is read: a proxy that appends to one
// passes the client's own copy of the other through untouched, so reading it would let any
// client name its address. An empty list trusts nobody.
func ParseProxies(list, header string) (Proxies, error) {
	var p Proxies
	switch strings.ToLower(strings.TrimSpace(header)) {
	case "", "x-forwarded-for":
	case "forwarded":
		p.forwarded = true
	default:
		return Proxies{}, fmt.Errorf("forwarding header %q: want x-forwarded-for or forwarded", header)
	}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return Proxies{}, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
			}
			f = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		}
		n, err := netip.ParsePrefix(f)
		if err != nil {
			return Proxies{}, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		p.nets = append(p.nets, n.Masked())
	}
	return p, nil
}

// trusted reports whether a is one of the proxies.
func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the party that sent r. It is the TCP peer, unless the peer is a
// trusted proxy: then the proxies' forwarding header (X-Forwarded-For, or Forwarded) is walked
// from the nearest hop outwards and the first address that is not a trusted proxy is the
// client. A malformed hop ends the walk at the last address believed,
// so a client cannot smuggle a made-up address past the proxy that appended its own.
func (p Proxies) ClientIP(r *http.Request) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return peerHost(r.RemoteAddr)
	}
	if !p.trusted(peer) {
		return peer.String()
	}
	hops := p.forwardedFor(r.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHost(hops[i])
		if !ok {
			break
		}
		client = a
		if !p.trusted(a) {
			break
		}
	}
	return client.String()
}

// forwardedFor lists the hops of the proxies' header, in the order they were added: the for=
// addresses of Forwarded (RFC 7239 §4), or the entries of X-Forwarded-For.
func (p Proxies) forwardedFor(h http.Header) []string {
	var out []string
	if p.forwarded {
		for _, line := range h.Values("Forwarded") {
			for _, elem := range strings.Split(line, ",") {
				for _, pair := range strings.Split(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						out = append(out, strings.Trim(v, `"`))
					}
				}
			}
		}
		return out
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for _, f := range strings.Split(line, ",") {
			out = append(out, strings.TrimSpace(f))
		}
	}
	return out
}

// parseHost parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port".
func parseHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func peerHost(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// ClientAddress puts the request's client address (p.ClientIP) into its context
// (auth.WithClientIP), where ClientIP, the access log, sessions and the domain rate limits
// read it. It is the full address; the rate limits count an IPv6 client by its /64
// (ratelimit.AddressKey). It must wrap every other handler.
//
// The first request that shows a proxy the settings do not describe (misconfigured) is logged
// to log as a warning, once: a reverse proxy missing from LOGINSIGN_TRUSTED_PROXIES, or one that
// writes the other header than LOGINSIGN_FORWARDED_HEADER, gives every client the proxy's
// address, so one client can spend the per-address limits of all (30 sign-in mails in 15
// minutes for the whole site).
func ClientAddress(p Proxies, log *slog.Logger, next http.Handler) http.Handler {
	var warned atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !warned.Load() {
			if msg := p.misconfigured(r); msg != "" && warned.CompareAndSwap(false, true) {
				log.WarnContext(r.Context(), msg, "peer", peerHost(r.RemoteAddr))
			}
		}
		next.ServeHTTP(w, r.WithContext(auth.WithClientIP(r.Context(), p.ClientIP(r))))
	})
}

// misconfigured says what is wrong when r looks like it came through a proxy the settings do
// not describe, "" otherwise: a forwarding header from a loopback or private peer that is not
// one of the proxies (from a public peer the header is a client's own), or a trusted proxy
// that sent only the header LOGINSIGN_FORWARDED_HEADER does not name.
func (p Proxies) misconfigured(r *http.Request) string {
	xff, fwd := r.Header.Get("X-Forwarded-For") != "", r.Header.Get("Forwarded") != ""
	if !xff && !fwd {
		return ""
	}
	peer, ok := parseHost(r.RemoteAddr)
	switch {
	case !ok:
		return ""
	case !p.trusted(peer) && (peer.IsLoopback() || peer.IsPrivate()):
		return "a request came through a proxy that is not trusted: every client behind it shares its address for rate limits; " +
			"list it in LOGINSIGN_TRUSTED_PROXIES (and set LOGINSIGN_FORWARDED_HEADER if it writes Forwarded)"
	case p.trusted(peer) && p.forwarded && !fwd:
		return "a trusted proxy sent X-Forwarded-For but LOGINSIGN_FORWARDED_HEADER is forwarded: its clients share its address for rate limits"
	case p.trusted(peer) && !p.forwarded && !xff:
		return "a trusted proxy sent Forwarded but LOGINSIGN_FORWARDED_HEADER is x-forwarded-for: its clients share its address for rate limits; set LOGINSIGN_FORWARDED_HEADER=forwarded"
	}
	return ""
}
