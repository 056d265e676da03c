// Package mail sends LoginSign's outbound mail: over SMTP when LOGINSIGN_SMTP_URL is set, into
// an outbox folder (and the log) when it is not.
//
// Messages are built here (MIME, Date, Message-ID, encoded headers) from the plain fields of a
// Message, or passed through unchanged when Message.Raw is set, which is how the inbound relay
// forwards mail without touching its body.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one mail to one recipient.
type Message struct {
	// To is the recipient: "person@example.com" or "Name <person@example.com>".
	To      string
	Subject string
	// Text is the plain-text part; HTML, when not empty, is sent as its alternative.
	Text, HTML string
	ReplyTo    string
	// From overrides Config.From for this message.
	From string
	// Headers are added to the top-level header, encoded as needed.
	Headers map[string]string
	// Raw, when set, is sent as-is instead of a message built from the fields above; only To
	// and EnvelopeFrom (or From) are used then, for the SMTP envelope.
	Raw []byte
	// EnvelopeFrom is the SMTP reverse path (MAIL FROM). Empty: the address of From.
	EnvelopeFrom string
	// NullSender sends m with the null reverse path (MAIL FROM:<>), whatever EnvelopeFrom and
	// From say: a delivery status notification, which nothing may answer (RFC 5321 section
	// 4.5.5).
	NullSender bool
	// Kind names the mail in the log and in Send's errors: the template ("magic_link",
	// "security_notice"), or the relay's "relay_forward" and "relay_reply". Neither shows
	// the subject, which names the app the person signs in to. Empty: "mail".
	Kind string
}

// Sender delivers messages. Send returns nil once the message was accepted by the next hop
// (the SMTP server, or the outbox folder); IsTemporary tells whether a failure may be retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Rehearser is a Sender that can go through the motions of sending m without delivering it:
// Rehearse does the work of Send, tries and failures included, up to the message itself (the
// SMTP conversation up to RCPT, then RSET, and a wait as long as the rest of a sent mail's
// conversation takes; the outbox composes the file but writes nothing).
// A caller that withholds a mail whose being withheld must not show (a team invitation past
// its address's daily cap of mails) rehearses it, so its answer takes the time of a mail sent.
type Rehearser interface {
	Rehearse(ctx context.Context, m Message) error
}

// Config configures New.
type Config struct {
	// URL is LOGINSIGN_SMTP_URL: smtp://[user:pass@]host:port (STARTTLS whenever the server
	// offers it) or smtps://[user:pass@]host:port (implicit TLS). Empty: the outbox.
	URL string
	// From is the default sender, e.g. "LoginSign <no-reply@example.com>". Required.
	From string
	// OutboxDir receives one .eml file per message when URL is empty. Default "data/outbox".
	OutboxDir string
	// Logger gets one line per message sent, naming its Kind, the recipient's digest (LogKey),
	// its size and tries; never the address, the subject or the body. Default slog.Default().
	Logger *slog.Logger
	// LogKey keys the digest that names a recipient in the log ("rcpt"): lines about one
	// mailbox can be matched without showing its address, and without the key a digest cannot
	// be tested against a list of addresses. Empty: a random key per Sender, so digests
	// change when the server restarts and differ between instances.
	LogKey []byte
	// TLSConfig is cloned for SMTP connections (tests put their CA here). Default: system roots.
	TLSConfig *tls.Config
	// RetryDelays are the waits between tries on temporary failures; the number of tries is
	// len(RetryDelays)+1. Nil: 1s, then 4s (three tries).
	RetryDelays []time.Duration
	// Now is the clock for Date headers and outbox file names. Default time.Now.
	Now func() time.Time
}

const defaultOutboxDir = "data/outbox"

var defaultRetryDelays = []time.Duration{time.Second, 4 * time.Second}

// New returns the Sender cfg describes: SMTP when cfg.URL is set, the outbox otherwise. It
// fails on a malformed URL or a missing From; it does not connect.
func New(cfg Config) (Sender, error) {
	if _, err := parseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", cfg.From, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = defaultRetryDelays
	}
	if len(cfg.LogKey) == 0 {
		cfg.LogKey = make([]byte, 32)
		rand.Read(cfg.LogKey)
	}
	if cfg.URL == "" {
		if cfg.OutboxDir == "" {
			cfg.OutboxDir = defaultOutboxDir
		}
		return &outbox{cfg: cfg}, nil
	}
	server, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	return &smtpSender{cfg: cfg, server: server}, nil
}

// smtpServer is a parsed LOGINSIGN_SMTP_URL.
type smtpServer struct {
	host, port  string
	implicitTLS bool
	user, pass  string
	hasAuth     bool
}

func (s smtpServer) addr() string { return net.JoinHostPort(s.host, s.port) }

// parseURL parses smtp://[user:pass@]host[:port] (port 587 when absent) and
// smtps://[user:pass@]host[:port] (port 465).
func parseURL(raw string) (smtpServer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return smtpServer{}, fmt.Errorf("mail: SMTP URL: %w", err)
	}
	var s smtpServer
	switch u.Scheme {
	case "smtp":
		s.port = "587"
	case "smtps":
		s.port, s.implicitTLS = "465", true
	default:
		return smtpServer{}, fmt.Errorf("mail: SMTP URL: scheme %q is not smtp or smtps", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return smtpServer{}, errors.New("mail: SMTP URL: no host")
	}
	if p := u.Port(); p != "" {
		s.port = p
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, s.hasAuth = u.User.Password()
		s.hasAuth = s.hasAuth || s.user != ""
	}
	return s, nil
}

// IsTemporary reports whether err, returned by Send, is worth retrying later: an SMTP 4xx
// reply, or a connection that failed or broke. Permanent errors (5xx replies, refused
// certificates, bad messages) return false.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false
	}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		return smtpErr.Code/100 == 4
	}
	var netErr net.Error // dial and I/O failures, timeouts, context deadlines
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errTemporary)
}

// errTemporary marks failures of our own that a later try may not hit (a full disk, say).
var errTemporary = errors.New("temporary failure")

// addrSpec returns the bare address of "Name <a@b>" or "a@b".
func addrSpec(s string) (string, error) {
	a, err := parseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// domainOf returns the part after the last @ of an address, or "localhost".
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "localhost"
}
