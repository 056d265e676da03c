package relay

import (
	"errors"
	"net"
	"sync"
	"time"
)

// defaultMaxPeerConnections is Config.MaxPeerConnections when unset. A fifth of the default
// MaxConnections (50), so that at least five peers are needed to take every session, as
// Postfix lets one client take at most half of its default 100 processes
// (smtpd_client_connection_count_limit). A sending MTA rarely holds more than a few sessions to
// one destination at once, and one turned away gets a 421 and sends later: nothing is lost.
const defaultMaxPeerConnections = 10

// defaultMaxSessionDuration is Config.MaxSessionDuration when unset. Sending MTAs reuse a
// session for a few minutes at most (Postfix: smtp_connection_reuse_time_limit, 300 s), and a
// 25 MiB DATA takes well under a minute on any link that sends mail.
const defaultMaxSessionDuration = 10 * time.Minute

// peerRefusalTimeout bounds the write of the 421 reply to a peer past its connection cap.
const peerRefusalTimeout = 10 * time.Second

// peerListener accepts the connections of its Listener while their peer (peerKey: an IPv4
// address or an IPv6 /64) has fewer than max open; a connection past that gets "421 4.7.0"
// at once and is closed, never served. Serve puts it under the global MaxConnections bound,
// so a refused connection does not take one of those sessions either, even for a moment.
type peerListener struct {
	net.Listener
	max      int
	hostname string // for the 421 reply, which names the server (RFC 5321 section 4.2.3)
	// lifetime, when set, bounds each connection's deadlines (peerConn).
	lifetime time.Duration

	mu   sync.Mutex
	open map[string]int // open connections by peerKey
}

func newPeerListener(l net.Listener, max int, hostname string) *peerListener {
	return &peerListener{Listener: l, max: max, hostname: hostname, open: map[string]int{}}
}

// Accept returns the next connection whose peer is within its cap, refusing the others.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		remote := ""
		if addr, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			remote = addr.IP.String()
		}
		key := peerKey(remote)
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			go l.refuse(c)
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		pc := &peerConn{Conn: c, release: func() { l.release(key) }}
		if l.lifetime > 0 {
			pc.end = time.Now().Add(l.lifetime)
			c.SetDeadline(pc.end)
		}
		return pc, nil
	}
}

// refuse answers c with 421, the reply after which a server may close the channel (RFC 5321
// section 3.8), and closes it.
func (l *peerListener) refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(peerRefusalTimeout))
	c.Write([]byte("421 4.7.0 " + l.hostname + " Too many connections from your address, try again later\r\n"))
	c.Close()
}

func (l *peerListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// peerConn is a connection counted by a peerListener until it is closed.
type peerConn struct {
	net.Conn
	once    sync.Once
	release func()
	// end, when set, is the latest read deadline go-smtp may set (it sets one per command);
	// writes get peerRefusalTimeout more, for the "421 4.4.2" that ends the session.
	end time.Time
}

func (c *peerConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(clampDeadline(t, c.end))
}

func (c *peerConn) SetWriteDeadline(t time.Time) error {
	if c.end.IsZero() {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetWriteDeadline(clampDeadline(t, c.end.Add(peerRefusalTimeout)))
}

func (c *peerConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// clampDeadline is t, or end when end is set and t is later or none.
func clampDeadline(t, end time.Time) time.Time {
	if !end.IsZero() && (t.IsZero() || t.After(end)) {
		return end
	}
	return t
}

func (c *peerConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
