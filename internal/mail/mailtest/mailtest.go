// Package mailtest runs an in-process SMTP server for tests: it records every message it
// accepts and can offer STARTTLS, require AUTH PLAIN, and refuse recipients on demand.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Envelope is one message the server accepted.
type Envelope struct {
	From string   // MAIL FROM
	To   []string // RCPT TO, in order
	Data []byte   // the message as received (CRLF line ends, dot-unstuffed)
	// Subject, Text and HTML are decoded from Data; empty when Data does not parse.
	Subject    string
	Text, HTML string
	TLS        bool   // the message came over TLS
	AuthUser   string // the user that authenticated, if any
	ReceivedAt time.Time
}

// Header returns the raw top-level header of the message (up to the blank line).
func (e Envelope) Header() []byte {
	h, _ := split(e.Data)
	return h
}

// Body returns the raw body of the message: the bytes after the header's blank line.
func (e Envelope) Body() []byte {
	_, b := split(e.Data)
	return b
}

func split(data []byte) (header, body []byte) {
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return data[:i+2], data[i+4:]
	}
	return data, nil
}

// Option changes how Start sets up the server.
type Option func(*Server)

// WithStartTLS makes the server offer STARTTLS with a self-signed certificate for 127.0.0.1
// and localhost; ClientTLSConfig trusts it.
func WithStartTLS() Option {
	return func(s *Server) { s.tls = true }
}

// WithAuth makes the server offer AUTH PLAIN and require it before MAIL FROM. Only user and
// pass are accepted.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithDiscard makes the server count messages without keeping them (for benchmarks):
// Messages then holds envelopes without Data and parsed fields.
func WithDiscard() Option {
	return func(s *Server) { s.discard = true }
}

// Server is a running test SMTP server. It is closed when the test ends.
type Server struct {
	tls        bool
	user, pass string
	discard    bool

	srv       *smtp.Server
	addr      string
	clientTLS *tls.Config

	mu       sync.Mutex
	messages []Envelope
	next     int           // index of the next message Next returns
	changed  chan struct{} // closed and replaced whenever a message arrives
	failures []*smtp.SMTPError
}

// Start runs a server on 127.0.0.1 with a free port. It stops when tb ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "mailtest.localhost"
	s.srv.AllowInsecureAuth = true // loopback; the client decides whether that is acceptable
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	logger := &tbLogger{tb: tb}
	s.srv.ErrorLog = logger
	if s.tls {
		serverTLS, clientTLS, err := selfSigned()
		if err != nil {
			tb.Fatalf("mailtest: certificate: %v", err)
		}
		s.srv.TLSConfig, s.clientTLS = serverTLS, clientTLS
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("mailtest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	go s.srv.Serve(l)
	tb.Cleanup(func() {
		logger.stop()
		s.srv.Close()
	})
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.addr }

// URL is the server as a LOGINSIGN_SMTP_URL: smtp://127.0.0.1:port, with user:pass when the
// server was started WithAuth.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// ClientTLSConfig trusts the server's certificate; nil unless started WithStartTLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// FailNext makes the next len(errs) RCPT commands fail with errs, in order (for example a 451
// to test retries).
func (s *Server) FailNext(errs ...*smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, errs...)
}

// Messages returns every message accepted so far, oldest first.
func (s *Server) Messages() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Envelope(nil), s.messages...)
}

// Count is the number of messages accepted so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

// Wait returns the messages once at least n have arrived; it fails tb after 10 seconds.
func (s *Server) Wait(tb testing.TB, n int) []Envelope {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		if len(s.messages) >= n {
			out := append([]Envelope(nil), s.messages...)
			s.mu.Unlock()
			return out
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			tb.Fatalf("mailtest: waited 10s for %d messages, got %d", n, s.Count())
			return nil
		}
	}
}

// Next returns the oldest message not yet returned by Next, waiting up to timeout for one; it
// fails tb when none arrives.
func (s *Server) Next(tb testing.TB, timeout time.Duration) Envelope {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		if s.next < len(s.messages) {
			e := s.messages[s.next]
			s.next++
			s.mu.Unlock()
			return e
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			tb.Fatalf("mailtest: no message within %v", timeout)
			return Envelope{}
		}
	}
}

func (s *Server) add(e Envelope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, e)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) takeFailure() *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return nil
	}
	err := s.failures[0]
	s.failures = s.failures[1:]
	return err
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{server: s, tls: isTLS}, nil
}

// session is one SMTP connection.
type session struct {
	server   *Server
	tls      bool
	authUser string
	from     string
	to       []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.server.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.server.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.server.user || pass != ss.server.pass || (identity != "" && identity != user) {
			return smtp.ErrAuthFailed
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.server.user != "" && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.server.takeFailure(); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e := Envelope{From: ss.from, To: ss.to, TLS: ss.tls, AuthUser: ss.authUser, ReceivedAt: time.Now()}
	if !ss.server.discard {
		e.Data = data
		e.Subject, e.Text, e.HTML = parse(data)
	}
	ss.server.add(e)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// parse decodes the subject and the first text/plain and text/html parts of data.
func parse(data []byte) (subject, text, html string) {
	r, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil && !message.IsUnknownCharset(err) {
		return "", "", ""
	}
	subject, _ = r.Header.Subject()
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		h, ok := p.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		t, _, _ := h.ContentType()
		body, err := io.ReadAll(p.Body)
		if err != nil {
			continue
		}
		switch {
		case t == "text/plain" && text == "":
			text = string(body)
		case t == "text/html" && html == "":
			html = string(body)
		}
	}
	return subject, text, html
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, a server config presenting it
// and a client config trusting it.
func selfSigned() (server, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return server, &tls.Config{RootCAs: pool}, nil
}

// tbLogger sends go-smtp's server log to the test log until the test's cleanup begins (a
// log call after the test ended would panic).
type tbLogger struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

func (l *tbLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }
func (l *tbLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }

func (l *tbLogger) log(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.tb.Log("mailtest: " + s)
	}
}

func (l *tbLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

// DecodeHeader decodes RFC 2047 encoded words in a raw header value.
func DecodeHeader(v string) string {
	out, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return out
}
