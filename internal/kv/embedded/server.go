package embedded

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"

	"github.com/tidwall/redcon"
)

// Server speaks the Redis protocol (tidwall/redcon) for a Store on in-memory connections:
// Dial hands out the client end of a new connection, so go-redis reaches the store through
// its Options.Dialer and nothing listens on a network port.
type Server struct {
	store *Store
	ln    *memListener
	done  chan struct{}
}

// Serve starts serving store.
func Serve(store *Store) *Server {
	s := &Server{store: store, ln: newMemListener(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		redcon.Serve(s.ln, s.handle, nil, nil)
	}()
	return s
}

// Dial opens a connection to the server (go-redis Options.Dialer).
func (s *Server) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.ln.dial(ctx)
}

// Close stops serving and closes every connection.
func (s *Server) Close() error {
	s.ln.Close()
	<-s.done
	return nil
}

// txState is a connection inside MULTI: the queued commands, and whether one was refused
// (unknown, or a wrong number of arguments), which discards the transaction at EXEC.
type txState struct {
	queued  [][][]byte
	aborted bool
}

func (s *Server) handle(c redcon.Conn, cmd redcon.Command) {
	name := strings.ToUpper(string(cmd.Args[0]))
	tx, _ := c.Context().(*txState)
	switch name {
	case "MULTI":
		if tx != nil {
			c.WriteError("ERR MULTI calls can not be nested")
			return
		}
		c.SetContext(&txState{})
		c.WriteString("OK")
		return
	case "EXEC":
		if tx == nil {
			c.WriteError("ERR EXEC without MULTI")
			return
		}
		c.SetContext(nil)
		if tx.aborted {
			c.WriteError(ErrExecAbort.Error())
			return
		}
		replies := s.store.DoAll(tx.queued)
		c.WriteArray(len(replies))
		for _, r := range replies {
			write(c, r)
		}
		return
	case "DISCARD":
		if tx == nil {
			c.WriteError("ERR DISCARD without MULTI")
			return
		}
		c.SetContext(nil)
		c.WriteString("OK")
		return
	case "QUIT":
		c.WriteString("OK")
		c.Close()
		return
	case "HELLO", "AUTH":
		// go-redis falls back to RESP2 on an error reply; there is nothing to authenticate
		// (the connections exist only inside the process).
		c.WriteError("ERR unknown command '" + string(cmd.Args[0]) + "'")
		return
	}
	if tx != nil {
		if err := queueError(cmd.Args); err != nil {
			tx.aborted = true
			c.WriteError(err.Error())
			return
		}
		// The read buffer is reused: keep copies.
		args := make([][]byte, len(cmd.Args))
		for i, a := range cmd.Args {
			args[i] = append([]byte(nil), a...)
		}
		tx.queued = append(tx.queued, args)
		c.WriteString("QUEUED")
		return
	}
	write(c, s.store.Do(cmd.Args...))
}

// write writes one reply.
func write(c redcon.Conn, r any) {
	switch v := r.(type) {
	case nil:
		c.WriteNull()
	case status:
		c.WriteString(string(v))
	case error:
		c.WriteError(v.Error())
	case int64:
		c.WriteInt64(v)
	case []byte:
		c.WriteBulk(v)
	case []any:
		c.WriteArray(len(v))
		for _, x := range v {
			write(c, x)
		}
	default:
		c.WriteError("ERR internal: unknown reply")
	}
}

// memListener is a net.Listener of in-memory connections.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := newMemPipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, errors.New("embedded store is closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "embedded" }
