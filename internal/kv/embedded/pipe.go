package embedded

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// memPipe is one direction of an in-memory connection: writes never block (they append to a
// buffer), reads wait for data, the peer's close, or the read deadline. Unlike net.Pipe,
// neither side can deadlock writing a pipeline the other is not yet reading.
type memPipe struct {
	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	closed   bool
	deadline time.Time
	timer    *time.Timer
}

func newPipeHalf() *memPipe {
	p := &memPipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *memPipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		if p.closed {
			return 0, io.EOF
		}
		if !p.deadline.IsZero() {
			d := time.Until(p.deadline)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			// One timer per direction, re-armed only when a read has to wait.
			if p.timer == nil {
				p.timer = time.AfterFunc(d, p.wake)
			} else {
				p.timer.Reset(d)
			}
		}
		p.cond.Wait()
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = p.buf[:0:0]
	}
	return n, nil
}

func (p *memPipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *memPipe) close() {
	p.mu.Lock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *memPipe) wake() {
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *memPipe) setDeadline(t time.Time) {
	p.mu.Lock()
	p.deadline = t
	p.cond.Broadcast()
	p.mu.Unlock()
}

// memConn is one end of an in-memory connection.
type memConn struct {
	in, out *memPipe
}

func newMemPipe() (client, server net.Conn) {
	a, b := newPipeHalf(), newPipeHalf()
	return &memConn{in: a, out: b}, &memConn{in: b, out: a}
}

func (c *memConn) Read(b []byte) (int, error)  { return c.in.read(b) }
func (c *memConn) Write(b []byte) (int, error) { return c.out.write(b) }
func (c *memConn) Close() error {
	c.in.close()
	c.out.close()
	return nil
}
func (c *memConn) LocalAddr() net.Addr  { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr { return memAddr{} }
func (c *memConn) SetDeadline(t time.Time) error {
	c.in.setDeadline(t)
	return nil
}
func (c *memConn) SetReadDeadline(t time.Time) error {
	c.in.setDeadline(t)
	return nil
}
func (c *memConn) SetWriteDeadline(time.Time) error { return nil } // writes never block
