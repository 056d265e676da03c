package relay

import (
	"context"
	"slices"
	"time"

	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
)

const (
	// DefaultRcptLimit is Config.RcptLimit when unset: RCPT TO commands per peer per rcptWindow.
	DefaultRcptLimit = 120
	// rcptWindow is the window of the RCPT limit.
	rcptWindow = time.Minute
	// DefaultReplyLimit is Config.ReplyLimit when unset: reply recipients per person per
	// replyWindow.
	DefaultReplyLimit = 100
	// replyWindow is the window of the reply limit.
	replyWindow = 24 * time.Hour
	// DefaultContactLimit is Config.ContactLimit when unset: reverse aliases per connection.
	// A connection is one masked address given to one app, whose mail comes from a handful of
	// addresses; 1,000 keeps every correspondent of an address used as a general inbox for
	// years (a forward makes at most 51: its sender and 50 To and Cc participants) and bounds
	// what one masked address costs the database to about 0.6 MB, whatever its senders do.
	DefaultContactLimit = 1000
)

// allowReplies counts the reply routes of an authenticated message, n recipients, against
// their person's Config.ReplyLimit per replyWindow, and reports whether all fit. Every address
// a forward named (From, Reply-To, To, Cc) gets a reverse alias, so without a cap anyone with
// an account could mail their own alias, copying in any addresses, and "reply all" to send
// them mail from the relay domain. It is counted only after the message proved it comes from
// the person (authorizeReplies), so a forged envelope cannot spend the person's budget.
func (s *Server) allowReplies(ctx context.Context, userID string, n int) (bool, error) {
	if n == 0 {
		return true, nil // a retry whose replies an earlier try all served
	}
	ok, _, err := s.cfg.KV.LimitN(ctx, "relay:replies:"+userID, n, s.cfg.ReplyLimit, replyWindow)
	return ok, err
}

// returnReplies gives back to the person's reply limit the count of the reply routes among
// routes that a deferred message (451) left for the sender's retry: neither served before
// (sent) nor by this try (served). The retry counts them again, so without this a message
// retried for days while one contact's server is down would spend the day's budget.
func (s *Server) returnReplies(routes []route, sent []bool, served []int) {
	var n int
	var userID string
	for i, r := range routes {
		if r.isReply() && !sent[i] && !slices.Contains(served, i) {
			n, userID = n+1, r.conn.UserID
		}
	}
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, lookupTimeout)
	defer cancel()
	if err := s.cfg.KV.Unlimit(ctx, "relay:replies:"+userID, n, replyWindow); err != nil {
		s.cfg.Logger.Error("relay: giving back reply counts", "error", mail.RedactAddresses(err.Error()))
	}
}

// allowRcpt counts one RCPT TO from remote (the peer's IP address) and reports whether the peer
// is still within Config.RcptLimit per rcptWindow. The counter lives in the shared Redis, so
// the limit holds across instances.
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
