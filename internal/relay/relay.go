// Package relay is the inbound SMTP server of masked addresses: mail for
// <alias>@<relay-domain> is forwarded to the person who owns the alias, and their replies go
// back out from the alias, so neither side learns the person's real address.
//
// Forwarding (mail from a sender S to alias A of a connection C owned by person P):
//
//   - RCPT TO is accepted only for addresses on Domain (in any ASCII case, no other folding;
//     anything else gets 550 5.7.1: no open relay), and only for an alias of a connection that
//     forwards, is not muted and is not blocked. Every refusal happens at RCPT with a 550, so
//     the sender gets an immediate bounce and no mail is accepted that would then be dropped
//     (the spec allows either; a refusal also keeps undeliverable mail off our disks).
//     Unknown, retired, blocked, muted and non-forwarding aliases all get the same 550 5.1.1
//     "No such mailbox", so a sender cannot tell which of them an address is. At DATA the
//     aliases are read again (one query): one that stopped taking mail since its RCPT is
//     dropped, and DATA gets the same 550 5.1.1 when none is left (notifySender reports the
//     dropped ones otherwise).
//   - Each peer (IPv4 address, or IPv6 /64) holds at most Config.MaxPeerConnections sessions
//     at once (10 by default) of the Config.MaxConnections the relay serves; a further
//     connection gets 421 4.7.0 and is closed, so one peer cannot stop the relay's mail.
//     A session lasts at most Config.MaxSessionDuration (10 minutes by default), then gets
//     421 4.4.2, so that NOOPs cannot hold one for ever.
//   - Each peer (IPv4 address, or IPv6 /64) may send Config.RcptLimit RCPT TO per minute,
//     accepted or refused; past that RCPT gets 450 4.7.1 until the minute ends, which makes
//     probing for aliases slow.
//   - The message must not pretend to come from a domain that forbids it. A forward leaves
//     from Domain, so the person's mail provider can no longer check the DMARC (RFC 7489) of
//     the domain in its From; the relay checks it in the provider's place, with the same
//     SPF/DKIM alignment as for replies. When the mail fails and the domain's policy is
//     reject or quarantine (sp= for a subdomain found at its organizational record; a pct=
//     below 100 lowers it one step), DATA gets 550 5.7.26 and nothing is sent; 451 4.7.26
//     when a DNS failure leaves that unknown. A From with several addresses, or several From
//     fields, gets 550 5.7.1. Mail that fails under p=none or without a DMARC record is
//     forwarded with "[unverified] " leading its From name. The forward carries one
//     Authentication-Results field (RFC 8601) of Hostname saying so; those the sender wrote,
//     Received-SPF and ARC-* are removed.
//   - The forwarded mail leaves with envelope sender and From on Domain, as SPF and DMARC at
//     the receiver require: From: "<S's name> (<S's address, @ written " at ">) via LoginSign"
//     <r-TOKEN@Domain> (displayName), where S is the From address and r-TOKEN@Domain is the
//     reverse alias, stored as a RelayContact of C, of where replies go: S's Reply-To, else S;
//     when that is not S, the name says so: "<S's name> (<S's address>, replies go to <the
//     Reply-To address>) via LoginSign"; S's name loses its parts in parentheses and any "via
//     LoginSign", so it cannot imitate that form. Reply-To is the reverse alias too, X-Original-From
//     keeps S's From header verbatim, X-LoginSign-Relay marks the hop and a Received trace
//     line is added. A mail with neither From, Reply-To nor envelope sender, and one whose
//     From is P's own address and passes DMARC (P writing to their own alias), gets no reverse
//     alias: it leaves from no-reply@Domain, which takes no mail, so no RelayContact ever
//     holds P's own verified address and bounces or automatic answers end at the relay.
//     Message-ID, In-Reply-To and References carry each message id encoded on Domain
//     ("fwd-<base32>@Domain"), the form a reply's In-Reply-To and References are filtered by.
//     Sender, Return-Path and DKIM-Signature are removed (our header changes would break the
//     signature). Fields that make P's mail client write to S directly, revealing P's address,
//     are removed too: Disposition-Notification-To, Return-Receipt-To, X-Confirm-Reading-To,
//     Errors-To, Mail-Reply-To, Mail-Followup-To, Mail-Copies-To, List-Post, and the mailto: entries of
//     List-Unsubscribe, List-Subscribe, List-Help, List-Owner and List-Archive (their http(s)
//     entries stay). Every To and Cc address but A becomes its
//     own reverse alias, another alias on Domain too (at most 50 per message; more are
//     dropped, several To or Cc fields are read as one, and one that does not parse is
//     removed), so a "reply all" reaches the other participants through the relay, not from
//     P's real address.
//     Below the top-level header only calendar parts change (text/calendar, application/ics,
//     *.ics, at any depth; calendar.go): P's mail client answers an invitation's ORGANIZER on
//     its own, so every ORGANIZER, ATTENDEE and calendar-user parameter (SENT-BY, DELEGATED-*,
//     MEMBER, EMAIL) address but A, and any other mailto: value, becomes a reverse alias too,
//     within the same 50 per message (past them, or unreadable, it is removed). The rest of
//     the body and attachments is forwarded byte for byte. A calendar part the relay cannot
//     read (one that does not decode, in UTF-16 or the like, or in a MIME tree past 200 parts
//     or 10 levels), and an opaque S/MIME part (application/pkcs7-mime, which clients unwrap
//     and may find an invitation in), or a TNEF part holding a meeting request (Outlook's
//     winmail.dat, which Outlook answers as an invitation), gets 550 5.6.0
//     (errCalendarUnreadable) and nothing is sent.
//   - C holds at most Config.ContactLimit reverse aliases (1,000 by default). A new address
//     past it replaces the least recently used reverse alias of C that P never replied to (one
//     P replied to only when none is left, never one of the same message), so mail from a new
//     sender is always forwarded with a working reverse alias, and a flood of forged senders,
//     which can only add contacts P never answered, costs the database a bounded number of
//     rows per connection and never the correspondents P replied to. A reply to a replaced
//     reverse alias is refused like one to an unknown one.
//
// Replying (mail from P to r-TOKEN@Domain):
//
//   - RCPT accepts every r-TOKEN@Domain whose token could be one ([a-z0-9], at most 64), from
//     every envelope sender but the null one, without looking anything up: which reverse
//     aliases exist, and whose they are, is not told at RCPT. The null sender gets the one
//     refusal of reverse aliases, 550 5.7.26 (errReplyRefused), whatever the token.
//   - At DATA the message must prove it comes from P, checked in this order, and each check
//     that fails gets that same 550 5.7.26 reply (nothing of the transaction is sent): its
//     From header names exactly one address; the message passes DMARC (RFC 7489) for that
//     address's domain: SPF passes for the envelope sender from the connecting peer and the
//     envelope domain is aligned with the From domain, or a valid DKIM signature has an
//     aligned d= and covers (h=) a To or Cc field naming every reverse alias of the
//     transaction, so that signed mail of P sent elsewhere cannot be replayed to one (451
//     4.7.26 when a DNS lookup failed temporarily); only then, each reverse
//     alias exists, its connection C is not blocked, and the From address is P's primary or
//     one of P's verified alternatives. Alignment is relaxed (same organizational domain)
//     unless the domain's DMARC record says aspf=s or adkim=s; its p= does not matter, a pass
//     is always required. DNS goes through Config.Resolver. So a stranger who learned a
//     reverse alias (it shows in a reply's quote) cannot use it to test whether a guessed
//     address is P's, nor tell a muted or non-forwarding C (whose replies still work) from a
//     blocked or deleted one.
//   - An authorized reply whose MIME tree holds a multipart/report, multipart/digest,
//     message/* or text/rfc822-headers part (read receipts, delivery reports, attached
//     messages), a key or signature part or a contact card (vCard) naming one of P's addresses
//     (S/MIME, OpenPGP, a card the client attaches to every message; in UTF-16 and in encoded
//     values too, a card in UTF-7 whatever it holds), a detached signature
//     (OpenPGP or S/MIME: it names the person's key, whatever else it holds), more
//     than 200 parts or 10 levels, a multipart that does not parse, an encrypted or
//     opaque-signed part (PGP/MIME, S/MIME enveloped or signed data), a text/plain part that
//     starts with an inline OpenPGP signed or encrypted message, a TNEF part (Outlook's
//     winmail.dat, whose MAPI properties hold the sender's address), or a calendar part the
//     relay cannot read gets 550 5.7.1 (errReplyContent; replyBodyRefusal, checkCalendars),
//     and spends nothing of the reply limit.
//   - An authenticated reply counts its recipients against the person's Config.ReplyLimit
//     per day (450 4.7.1 past it): every address a forward names gets a reverse alias, so
//     without a cap the relay would mail anyone an account holder copied into a mail to
//     their own alias.
//   - It is sent to S with envelope sender and From A, To S and a new Message-ID on Domain.
//     Of P's header only Subject, Date (written in UTC), MIME-Version, Content-*, Cc,
//     Auto-Submitted, In-Reply-To, References and X-LoginSign-Relay stay (scrubReply): every
//     other field, whatever P's mail system added, is removed. Of those, a field other than
//     Subject, In-Reply-To, References and Cc that names one of P's addresses (primary, shared
//     with the app, alternatives verified or not; ignoring case, also inside encoded words)
//     is removed, and Cc loses P's own entries; In-Reply-To and References keep only the
//     message ids of forwards ("fwd-" form), decoded back to the sender's. Then, in Cc,
//     reverse aliases of C become their contacts' addresses again (the first 50 distinct ones,
//     looked up together) and other reverse aliases are removed. No rule that depends on P's addresses reads what a sender can plant in a
//     reply (a subject, a message id, a Cc entry), so the sender's copy of the reply is the
//     same whether or not a guess planted there is P's address.
//   - Below the top-level header, each part keeps only its Content-* fields (replyParts:
//     X-Mozilla-External-Attachment-URL, the local path of an attachment with P's user name,
//     and every other field a client adds to a part, go), and every address in them but in
//     Content-ID (renamed, contentIDs) and Content-Transfer-Encoding is mapped as a calendar
//     part's text is: a reverse alias of C becomes its contact's address, any other address
//     A. Content-Type and Content-Disposition parameters are read as a client reads them (RFC
//     2231 continuations and encoded values, RFC 2047 words), an attachment's extension
//     stays. None of this reads P's addresses either, so an attachment named with a guess of
//     P's address comes back named with A whether or not the guess was right.
//   - Calendar parts of the reply (calendar.go) name P by the alias only: in an iTIP REPLY,
//     COUNTER or REFRESH every ATTENDEE becomes A whatever it held; elsewhere, and for the
//     ORGANIZER and calendar-user parameters, a reverse alias of C becomes its contact's
//     address and every other address A. ORGANIZER and ATTENDEE lines, and any other whose
//     value is a mailto: URI, keep only CUTYPE, ROLE, PARTSTAT and RSVP besides those (CN
//     goes). None of this reads P's addresses either.
//
// A message whose top-level header holds more than 1,000 fields or 256 KiB gets 552 5.3.4 at
// DATA and nothing of it is sent (maxHeaderFields, maxHeaderBytes). A message (by DATA or
// BDAT, forward or reply) holding a CR or LF that is not part of a CRLF gets 550 5.6.0 and
// nothing of it is sent (bareLineBreak): none reaches the next hop, which might read it as a
// line end.
//
// The envelope sender of a forward is the reverse alias (or no-reply@Domain), so a bounce of
// the forward (sent from <>) is refused at RCPT instead of being forwarded again: forwards
// cannot loop. A message that already passed the relay maxHops times is refused with 554
// 5.4.6.
//
// Delivery is synchronous: DATA is answered after the outbound Send returned. When a
// recipient could not be served for now (the next hop answered 4xx or could not be reached, or
// the relay could not read or write a reverse alias or the person's addresses), the reply is
// 451 and the sender retries, also when other recipients were served; the relay then
// remembers those for sentTTL (a hash of envelope sender, recipient and message in Redis), so
// the retry of the same message serves only the rest. Otherwise the reply is 250 when some recipients
// were served (a permanent failure of another is reported to the sender in a delivery status
// notification, notifySender) and 554 when none was.
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
	"golang.org/x/net/netutil"

	"loginsign/ent"
	"loginsign/internal/kv"
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
	// MaxConnections bounds the SMTP sessions served at once; further connections wait to be
	// accepted. A message is held in memory while it is relayed, so this and MaxMessageBytes
	// bound the relay's memory. Default 50.
	MaxConnections int
	// MaxPeerConnections bounds the sessions one peer (an IPv4 address or an IPv6 /64) holds
	// at once, so that no peer takes every one of MaxConnections; a further connection of the
	// peer gets "421 4.7.0" and is closed. Default 10 (defaultMaxPeerConnections).
	MaxPeerConnections int
	// MaxSessionDuration bounds how long one SMTP session lasts, whatever it sends: past it the
	// next read ends the session with "421 4.4.2", and a DATA in progress is not accepted
	// (the sender sends it again in a new session). Without it, NOOPs every two minutes hold
	// a session, and one of MaxPeerConnections, for ever. Default 10 minutes
	// (defaultMaxSessionDuration).
	MaxSessionDuration time.Duration
	// TLSConfig, when set, makes the server offer STARTTLS.
	TLSConfig *tls.Config
	// Logger gets one line per relayed or refused message, naming connections by id and the
	// addresses of refused mail by their domains ("•••@example.com"): never an alias, a
	// reverse alias or a real address. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for Received lines and RelayContact timestamps. Default time.Now.
	Now func() time.Time
	// KV holds the RCPT limiter's counters, shared by every instance. Required.
	KV *kv.Store
	// RcptLimit is how many RCPT TO commands one peer (an IPv4 address or an IPv6 /64) may
	// send per minute, accepted or not; past it RCPT gets 450 4.7.1 until the minute ends
	// (LOGINSIGN_RELAY_RCPT_LIMIT). Default DefaultRcptLimit.
	RcptLimit int
	// ReplyLimit is how many recipients one person may reply to through reverse aliases per
	// day, counted once a reply is authenticated; past it DATA gets 450 4.7.1
	// (LOGINSIGN_RELAY_REPLY_LIMIT). Default DefaultReplyLimit.
	ReplyLimit int
	// ContactLimit is how many reverse aliases (RelayContact rows) one connection holds at
	// most; a new sender past it replaces the least recently used contact the person never
	// replied to (Server.makeRoomForContacts). Default DefaultContactLimit.
	ContactLimit int
	// Resolver answers the DNS queries that authenticate replies and the senders of forwards
	// (SPF, DKIM, DMARC). Default net.DefaultResolver.
	Resolver Resolver
}

const (
	defaultMaxMessageBytes = 25 << 20
	defaultMaxConnections  = 50
	// maxRecipients bounds RCPT TO per message.
	maxRecipients = 50
	// maxHops is how many X-LoginSign-Relay lines a message may carry before it is a loop.
	maxHops = 3
	// lookupTimeout bounds the database work of one RCPT.
	lookupTimeout = 30 * time.Second
	// sendTimeout bounds the outbound delivery of one message to one recipient.
	sendTimeout = 2 * time.Minute
	// authTimeout bounds the owner lookups and DNS queries that authenticate one reply.
	authTimeout = 30 * time.Second
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
// out. It does not listen yet: call ListenAndServe or Serve. It panics when cfg.KV is nil.
func NewServer(cfg Config, db *ent.Client, out mail.Sender) *Server {
	if cfg.KV == nil {
		panic("relay: Config.KV is required (the RCPT limiter counts there)")
	}
	if cfg.RcptLimit <= 0 {
		cfg.RcptLimit = DefaultRcptLimit
	}
	if cfg.ReplyLimit <= 0 {
		cfg.ReplyLimit = DefaultReplyLimit
	}
	if cfg.ContactLimit <= 0 {
		cfg.ContactLimit = DefaultContactLimit
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	cfg.Domain = strings.ToLower(strings.TrimSpace(cfg.Domain))
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Domain
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = defaultMaxMessageBytes
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = defaultMaxConnections
	}
	if cfg.MaxPeerConnections <= 0 {
		cfg.MaxPeerConnections = defaultMaxPeerConnections
	}
	if cfg.MaxSessionDuration <= 0 {
		cfg.MaxSessionDuration = defaultMaxSessionDuration
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
// smtp.ErrServerClosed. At most Config.MaxConnections are served at once, at most
// Config.MaxPeerConnections of them for one peer.
func (s *Server) Serve(l net.Listener) error {
	s.cfg.Logger.Info("relay listening", "addr", l.Addr().String(), "domain", s.cfg.Domain)
	peers := newPeerListener(l, s.cfg.MaxPeerConnections, s.cfg.Hostname)
	peers.lifetime = s.cfg.MaxSessionDuration
	return s.smtp.Serve(netutil.LimitListener(peers, s.cfg.MaxConnections))
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

// slogPrinter is go-smtp's server logger writing to slog. Its lines are go-smtp's own (a
// panic's value, a connection's error), so addresses are redacted in case one shows up there.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.l.Warn("relay: " + mail.RedactAddresses(fmt.Sprintf(format, v...)))
}

func (p slogPrinter) Println(v ...any) {
	p.l.Warn("relay: " + mail.RedactAddresses(strings.TrimSuffix(fmt.Sprintln(v...), "\n")))
}
