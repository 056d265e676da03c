package relay

import (
	"context"
	"time"

	"loginsign/internal/ratelimit"
)

const (
	// DefaultRcptLimit is Config.RcptLimit when unset: RCPT TO commands per peer per rcptWindow.
	DefaultRcptLimit = 120
	// rcptWindow is the window of the RCPT limit.
	rcptWindow = time.Minute
)

// allowRcpt counts one RCPT TO from remote (the peer's IP address) and reports whether the peer
// is still within Config.RcptLimit per rcptWindow. The counter lives in the shared Redis, so
// the limit holds across instances. This is the relay's only call into the limiter.
func (s *Server) allowRcpt(ctx context.Context, remote string) (bool, error) {
	ok, _, err := s.cfg.KV.Limit(ctx, "relay:rcpt:"+peerKey(remote), s.cfg.RcptLimit, rcptWindow)
	return ok, err
}

// peerKey is the bucket of a peer: its IPv4 address, or the /64 of an IPv6 address (one
// subscriber usually holds a whole /64, so counting single IPv6 addresses limits nothing),
// as the HTTP limits count a client address (ratelimit.AddressKey).
func peerKey(remote string) string {
	if k, ok := ratelimit.AddressKey(remote); ok {
		return k
	}
	return "unknown"
}
