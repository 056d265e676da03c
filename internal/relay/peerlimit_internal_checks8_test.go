package relay

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// chanListener is a net.Listener that accepts the connections sent to it.
type chanListener struct{ conns chan net.Conn }

func (l chanListener) Accept() (net.Conn, error) { return <-l.conns, nil }
func (l chanListener) Close() error              { return nil }
func (l chanListener) Addr() net.Addr            { return &net.TCPAddr{} }

// remoteConn is one end of a pipe that says it comes from remote.
type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// TestThePeerCapCountsAnIPv6Slash64AsOnePeer: peerListener counts the sessions of an IPv6
// peer by its /64, like the RCPT limit (peerKey): a second address of the same /64 is turned
// away past the cap with a 421, an address of another /64 is accepted, and a closed session
// frees its place.
func TestThePeerCapCountsAnIPv6Slash64AsOnePeer(t *testing.T) {
	t.Parallel()
	l := newPeerListener(chanListener{conns: make(chan net.Conn, 3)}, 1, "mx.relay.test")
	dial := func(ip string) (client net.Conn) {
		server, client := net.Pipe()
		l.Listener.(chanListener).conns <- remoteConn{Conn: server, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 25}}
		t.Cleanup(func() { client.Close() })
		return client
	}
	accept := func() net.Conn {
		t.Helper()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	dial("2001:db8:1:1::1")
	first := accept()
	refused := dial("2001:db8:1:1::2")
	dial("2001:db8:1:2::1")
	if got := accept().RemoteAddr().String(); got != "[2001:db8:1:2::1]:25" {
		t.Errorf("accepted %s, want the address of another /64, [2001:db8:1:2::1]:25", got)
	}
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(refused).ReadString('\n')
	if want := "421 4.7.0 mx.relay.test Too many connections from your address, try again later\r\n"; line != want {
		t.Errorf("a second address of the same /64: %q (%v), want %q", line, err, want)
	}

	first.Close()
	first.Close() // a second Close frees nothing more
	dial("2001:db8:1:1::3")
	if got := accept().RemoteAddr().String(); got != "[2001:db8:1:1::3]:25" {
		t.Errorf("accepted %s after the /64's session closed, want [2001:db8:1:1::3]:25", got)
	}
	if n := l.open["2001:db8:1:1::/64"]; n != 1 {
		t.Errorf("%d sessions counted for 2001:db8:1:1::/64, want 1", n)
	}
}
