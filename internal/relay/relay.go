// Package relay is the inbound SMTP server of masked addresses: mail for
// <alias>@<relay-domain> is forwarded to the person who owns the alias, and their replies go
// back out from the alias, so neither side learns the person's real address.
//
// Forwarding (mail from a sender S to alias A of a connection C owned by person P):
//
//   - RCPT TO is accepted only for addresses on Domain (any case; anything else gets 550 5.7.1:
//     no open relay), and only for an alias of a connection that forwards, is not muted and is
//     not blocked. Every refusal happens at RCPT with a 550, so the sender gets an immediate
//     bounce and no mail is accepted that would then be dropped (the spec allows either; a
//     refusal also keeps undeliverable mail off our disks). Unknown and retired aliases get
//     550 5.1.1; blocked, muted and non-forwarding ones 550 5.7.1 with one message, so a sender
//     cannot tell which of the three the person chose.
//   - The forwarded mail leaves with envelope sender and From on Domain, as SPF and DMARC at
//     the receiver require: From: "<S's name> (<S's address, @ written " at ">) via LoginSign"
//     <r-TOKEN@Domain>, where r-TOKEN@Domain is the reverse alias of (C, S) stored as a
//     RelayContact. Reply-To is the reverse alias too, X-Original-From keeps S's From header
//     verbatim, X-LoginSign-Relay marks the hop and a Received trace line is added. Sender,
//     Return-Path and DKIM-Signature are removed (our header changes would break the
//     signature). Nothing below the top-level header is touched: the body and attachments are
//     forwarded byte for byte.
//
// Replying (mail from P to r-TOKEN@Domain):
//
//   - accepted only while C exists and is not blocked, and only from P's primary address or
//     one of P's verified alternative addresses; anyone else gets 550 5.7.1.
//   - sent to S with envelope sender and From A. Headers that would reveal P (Sender, Reply-To,
//     Return-Path, Received, X-Originating-IP, DKIM-Signature) are removed, To becomes S and
//     Message-ID is replaced by one on Domain.
//
// The envelope sender of a forward is the reverse alias, so a bounce of the forward (sent
// from <>) is refused at RCPT instead of being forwarded again: forwards cannot loop. A
// message that already passed the relay maxHops times is refused with 554 5.4.6.
//
// Delivery is synchronous: DATA is answered after the outbound Send returned. When no
// recipient could be served, the reply is 451 for temporary failures (the sender retries) and
// 554 otherwise; when some recipients were served, the reply is 250 and the failures are
// logged.
package relay

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/ent"
	"loginsign/internal/mail"
)

// Config configures NewServer.
type Config struct {
	// Addr is the listen address of ListenAndServe (LOGINSIGN_RELAY_ADDR), e.g. ":2525".
	Addr string
	// Domain is the relay domain (LOGINSIGN_RELAY_DOMAIN): aliases are <local>@Domain.
	Domain string
	// Hostname names this server in its greeting and in Received lines. Default: Domain.
	Hostname string
	// MaxMessageBytes is the largest message accepted; larger ones get 552. Default 25 MiB.
	MaxMessageBytes int64
	// TLSConfig, when set, makes the server offer STARTTLS.
	TLSConfig *tls.Config
	// Logger gets one line per relayed or refused message. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for Received lines and RelayContact timestamps. Default time.Now.
	Now func() time.Time
}

const (
	defaultMaxMessageBytes = 25 << 20
	// maxRecipients bounds RCPT TO per message.
	maxRecipients = 50
	// maxHops is how many X-LoginSign-Relay lines a message may carry before it is a loop.
	maxHops = 3
	// lookupTimeout bounds the database work of one RCPT.
	lookupTimeout = 30 * time.Second
	// sendTimeout bounds the outbound delivery of one message to one recipient.
	sendTimeout = 2 * time.Minute
)

// Server is the relay's SMTP server. Create it with NewServer.
type Server struct {
	cfg  Config
	db   *ent.Client
	out  mail.Sender
	smtp *smtp.Server

	// ctx ends when the server closes; lookups and deliveries run under it.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewServer returns a relay for cfg.Domain that looks aliases up in db and delivers through
// out. It does not listen yet: call ListenAndServe or Serve.
func NewServer(cfg Config, db *ent.Client, out mail.Sender) *Server {
	cfg.Domain = strings.ToLower(strings.TrimSpace(cfg.Domain))
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Domain
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = defaultMaxMessageBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, db: db, out: out}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Addr = cfg.Addr
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = maxRecipients
	srv.ReadTimeout = 2 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.TLSConfig = cfg.TLSConfig
	srv.ErrorLog = slogPrinter{cfg.Logger}
	s.smtp = srv
	return s
}

// ListenAndServe listens on cfg.Addr and serves until Close or Shutdown, after which it
// returns smtp.ErrServerClosed.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("relay: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(l)
}

// Serve accepts connections on l until Close or Shutdown, after which it returns
// smtp.ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.cfg.Logger.Info("relay listening", "addr", l.Addr().String(), "domain", s.cfg.Domain)
	return s.smtp.Serve(l)
}

// Close stops listening and drops open connections at once; deliveries in progress are
// cancelled.
func (s *Server) Close() error {
	s.cancel()
	return s.smtp.Close()
}

// Shutdown stops listening and waits, until ctx ends, for open connections to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	s.cancel()
	return err
}

// slogPrinter is go-smtp's server logger writing to slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.l.Warn("relay: " + fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.l.Warn("relay: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
