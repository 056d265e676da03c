package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpSender delivers through one SMTP server.
type smtpSender struct {
	cfg    Config
	server smtpServer
	// tail is how long the end of a sent mail's conversation takes, from the recipient's
	// acceptance to QUIT's answer (DATA, the message, the server's acceptance of it, which
	// may take it a while, and QUIT): a moving average over the mails sent. A rehearsal,
	// whose end is RSET and QUIT, waits out the difference (waitTail).
	tailMu sync.Mutex
	tail   time.Duration
}

// Send delivers m, trying again after each of cfg.RetryDelays while the failure is temporary
// (IsTemporary) and ctx is live. The error of the last try is returned, wrapped and with every
// address in its text redacted (RedactAddresses): callers log it.
func (s *smtpSender) Send(ctx context.Context, m Message) error {
	return redact(s.send(ctx, m))
}

// Rehearse is Send without the message (Rehearser): each try runs the SMTP conversation up
// to RCPT, with the options Send gives MAIL, and ends it with RSET, so the server accepts
// nothing to deliver; it then waits as long as the end of a sent mail's conversation takes
// more than RSET and QUIT did (tail), so that it takes the time of a mail sent.
func (s *smtpSender) Rehearse(ctx context.Context, m Message) error {
	return redact(s.try(ctx, m, true))
}

func (s *smtpSender) send(ctx context.Context, m Message) error {
	return s.try(ctx, m, false)
}

// try delivers m (or, rehearsing, goes as far as RCPT), trying again as Send describes.
func (s *smtpSender) try(ctx context.Context, m Message, rehearse bool) error {
	kind := kindOf(m)
	env, data, err := prepare(m, s.cfg)
	if err != nil {
		return fmt.Errorf("mail: %s: %w", kind, err)
	}
	rcpt := logDigest(s.cfg.LogKey, env.to)
	for try := 0; ; try++ {
		err = s.deliver(ctx, env, data, rehearse)
		if err == nil {
			if rehearse {
				s.cfg.Logger.Info("mail withheld", "kind", kind, "rcpt", rcpt, "tries", try+1)
			} else {
				s.cfg.Logger.Info("mail sent", "kind", kind, "rcpt", rcpt, "bytes", len(data), "tries", try+1)
			}
			return nil
		}
		if !IsTemporary(err) || try >= len(s.cfg.RetryDelays) {
			return fmt.Errorf("mail: sending %s via %s (try %d): %w", kind, s.server.addr(), try+1, err)
		}
		s.cfg.Logger.Warn("mail: temporary failure, retrying", "kind", kind, "rcpt", rcpt,
			"error", RedactAddresses(err.Error()), "in", s.cfg.RetryDelays[try])
		select {
		case <-ctx.Done():
			return fmt.Errorf("mail: sending %s: %w (after: %v)", kind, ctx.Err(), err)
		case <-time.After(s.cfg.RetryDelays[try]):
		}
	}
}

// envelope is the SMTP envelope of one message.
type envelope struct{ from, to string }

// prepare returns the envelope of m and the bytes to send: m.Raw, or m composed.
func prepare(m Message, cfg Config) (envelope, []byte, error) {
	var env envelope
	var err error
	if env.to, err = addrSpec(m.To); err != nil {
		return env, nil, fmt.Errorf("recipient: %w", err)
	}
	switch {
	case m.NullSender:
	case m.EnvelopeFrom != "":
		env.from, err = addrSpec(m.EnvelopeFrom)
	case m.From != "":
		env.from, err = addrSpec(m.From)
	default:
		env.from, err = addrSpec(cfg.From)
	}
	if err != nil {
		return env, nil, fmt.Errorf("envelope sender: %w", err)
	}
	if m.Raw != nil {
		return env, m.Raw, nil
	}
	data, err := compose(m, cfg.From, cfg.Now())
	if err != nil {
		return env, nil, err
	}
	return env, data, nil
}

// deliver runs one SMTP conversation; rehearsing, it ends after RCPT with RSET, before DATA,
// and waits out the rest of a sent mail's time (waitTail). Deadlines and cancellation of ctx
// close the connection.
func (s *smtpSender) deliver(ctx context.Context, env envelope, data []byte, rehearse bool) error {
	c, err := s.connect(ctx, true)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.server.hasAuth {
		if err := s.auth(c); err != nil {
			return err
		}
	}
	// As smtp.Client.SendMail does: an address that is not ASCII needs SMTPUTF8, which a
	// server that does not offer it fails at once. A rehearsal without it went on where the
	// mail sent failed, and answered a withheld invitation differently.
	var opts *smtp.MailOptions
	if !isASCII(env.from) || !isASCII(env.to) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(env.from, opts); err != nil {
		return err
	}
	if err := c.Rcpt(env.to, nil); err != nil {
		return err
	}
	start := time.Now()
	if rehearse {
		if err := c.Reset(); err != nil {
			return err
		}
		_ = c.Quit()
		return s.waitTail(ctx, time.Since(start))
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// The message is accepted once DATA succeeded; a failing QUIT changes nothing.
	_ = c.Quit()
	s.noteTail(time.Since(start))
	return nil
}

// maxTail bounds one mail's end of conversation as noteTail counts it. A relay that once
// took half a minute to accept a message (a queue flush, a content scanner restarting) set
// the average a rehearsal waits out, the first mail wholly and any other by an eighth: every
// withheld invitation's request then hung for seconds, tens of seconds after a first slow
// mail, until a score of mails had moved it back. A relay accepts a message in well under a
// second; past maxTail a mail is an outlier whose time tells an inviter nothing a rehearsal
// should copy.
const maxTail = 5 * time.Second

// noteTail adds how long the end of a sent mail's conversation took, at most maxTail, to the
// moving average tail (the first mail sets it; each next one moves it by an eighth of the
// difference).
func (s *smtpSender) noteTail(took time.Duration) {
	took = min(took, maxTail)
	s.tailMu.Lock()
	defer s.tailMu.Unlock()
	if s.tail == 0 {
		s.tail = took
	} else {
		s.tail += (took - s.tail) / 8
	}
}

// waitTail waits, after a rehearsal's RSET and QUIT that took took, for as long as the end
// of a sent mail's conversation takes more (tail): the mail sent goes one round trip further
// (DATA, then the message's end) and waits for the server to accept the message, so without
// it an inviter timing the answers told a withheld invitation (its address past its daily
// cap of mails) from a mail sent. Until a mail was sent there is nothing to wait for. An
// end of ctx ends the wait with its error, as it ends a conversation.
func (s *smtpSender) waitTail(ctx context.Context, took time.Duration) error {
	s.tailMu.Lock()
	pad := s.tail - took
	s.tailMu.Unlock()
	if pad <= 0 {
		return nil
	}
	t := time.NewTimer(pad)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// connect dials the server and returns a client that has said EHLO, over TLS when the URL is
// smtps or the server offers STARTTLS. go-smtp can start TLS only while setting up a client,
// so a server that offers STARTTLS is dialled a second time with DialStartTLS semantics.
func (s *smtpSender) connect(ctx context.Context, mayUpgrade bool) (*smtp.Client, error) {
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	if s.server.implicitTLS {
		c = smtp.NewClient(conn)
	} else if !mayUpgrade {
		c, err = smtp.NewClientStartTLS(conn, s.tlsConfig())
		if err != nil {
			conn.Close()
			return nil, err
		}
	} else {
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = time.Minute
	c.SubmissionTimeout = 5 * time.Minute
	if err := c.Hello(heloName(s.cfg.From)); err != nil {
		c.Close()
		return nil, err
	}
	if mayUpgrade && !s.server.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			c.Close()
			return s.connect(ctx, false)
		}
	}
	return c, nil
}

// dial opens the TCP (or, for smtps, TLS) connection. The connection is closed when ctx ends
// and carries ctx's deadline.
func (s *smtpSender) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second}
	var conn net.Conn
	var err error
	if s.server.implicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.server.addr())
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.server.addr())
	}
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return &stopConn{Conn: conn, stop: stop}, nil
}

// stopConn releases the ctx watcher of dial when closed.
type stopConn struct {
	net.Conn
	stop func() bool
}

func (c *stopConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

func (s *smtpSender) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if s.cfg.TLSConfig != nil {
		cfg = s.cfg.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.server.host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// errInsecureAuth is returned instead of sending credentials in clear text.
var errInsecureAuth = errors.New("refusing to send SMTP credentials without TLS to a non-loopback server")

// auth sends the URL's credentials with SASL PLAIN: only over TLS, or to a loopback server.
func (s *smtpSender) auth(c *smtp.Client) error {
	if _, isTLS := c.TLSConnectionState(); !isTLS && !isLoopback(s.server.host) {
		return errInsecureAuth
	}
	if !c.SupportsAuth("PLAIN") {
		return errors.New("SMTP server does not offer AUTH PLAIN")
	}
	if err := c.Auth(sasl.NewPlainClient("", s.server.user, s.server.pass)); err != nil {
		return fmt.Errorf("authenticating as %q: %w", s.server.user, err)
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// heloName is the name we give in EHLO: the domain of the sender address.
func heloName(from string) string {
	addr, err := addrSpec(from)
	if err != nil {
		return "localhost"
	}
	return domainOf(addr)
}
