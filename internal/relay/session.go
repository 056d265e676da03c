package relay

import (
	"context"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/emersion/go-smtp"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/retiredalias"
	"loginsign/ent/useremail"
	"loginsign/internal/mail"
	"loginsign/internal/store"
)

// SMTP replies of the relay. Every alias that does not take mail (unknown, retired, muted, not
// forwarding, blocked) gets errNoMailbox, so a sender learns nothing about the person's
// settings or the alias's history.
var (
	errRelayDenied      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay denied: not a mailbox of this server"}
	errNoMailbox        = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	errThrottled        = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many recipients from your address, try again later"}
	errRepliesThrottled = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many replies from this account today, try again later"}
	errBadAddress       = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	errLookup           = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary lookup failure, try again later"}
	errLoop             = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Mail loop detected"}
	errMalformed        = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message header"}
	errDeferred         = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 1}, Message: "Delivery failed temporarily, try again later"}
	errUndelivered      = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 0, 0}, Message: "Delivery failed"}
	errNoRecipients     = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients since the last MAIL FROM"}

	// errCalendarUnreadable refuses a forward with a calendar part the relay cannot rewrite
	// (checkCalendars): passed on as it is, an invitation's ORGANIZER would be answered from
	// the person's real address.
	errCalendarUnreadable = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Message refused: the relay forwards calendar invitations only with their addresses rewritten, and cannot read a calendar part of this one (a text/calendar or .ics part that does not decode or is not in an ASCII-compatible charset, or a MIME tree past 200 parts or 10 levels around one)"}

	// errReplyRefused is the one answer of a reverse alias that refuses a message, whatever the
	// reason: the null sender (at RCPT), a From that is not one address, a message that fails
	// DMARC for its From domain, an unknown, purged or blocked reverse alias, a From that is not
	// the owner's (all at DATA). One answer for all, with nothing of the person read before the
	// message passed DMARC (authorizeReplies), is what keeps a reverse alias from confirming a
	// guessed address or telling a muted person from a deleted one.
	errReplyRefused = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 26},
		Message: "Reply refused: only the owner of a live reverse alias may write to it, from one From address that passes SPF or DKIM aligned with its domain (DMARC)"}
	// errReplyContent refuses an authenticated reply that carries what would show the person's
	// address or mail system to the contact (checkReplyBody).
	errReplyContent = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Reply refused: a reverse alias does not pass on attached messages, delivery or read reports, message headers, keys or certificates naming your address, signatures (send unsigned), or MIME structures it cannot read"}
)

// reverseAliasPrefix starts the local part of reverse aliases: "r-" and a token of
// [a-z0-9] (maxTokenLength at most). Aliases are [a-z0-9] only, so the two never collide.
const (
	reverseAliasPrefix = "r-"
	maxTokenLength     = 64
)

// noReplyLocal is the local part of the relay's address that takes no mail, on Domain: the
// envelope sender and From of a forward that has no reverse alias (a mail with neither From,
// Reply-To nor envelope sender, or one the person sent themselves), so that bounces and
// automatic answers to it end at the relay. Its "-" keeps it apart from aliases and reverse
// aliases.
const noReplyLocal = "no-reply"

// route is one accepted recipient: a forward to the alias owner, or (token != "") a reply
// from the owner to a contact. A reply route is accepted at RCPT for its token alone; its
// contact and connection are looked up at DATA, once the message proved its author
// (authorizeReplies).
type route struct {
	rcpt    string             // the recipient address, lower-cased
	token   string             // the reverse alias's token, for replies
	conn    *ent.AppConnection // with its user loaded; for replies, set by authorizeReplies
	contact *ent.RelayContact  // for replies, set by authorizeReplies
}

// isReply reports whether r goes to a reverse alias.
func (r route) isReply() bool { return r.token != "" }

// session is one SMTP connection into the relay.
type session struct {
	s      *Server
	helo   string
	remote string
	from   string
	routes []route
	// calendars holds the calendar parts of the message being delivered, decoded and parsed
	// once for all its routes (calendarCache); deliver sets it for each message.
	calendars calendarCache
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	remote := ""
	if addr, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		remote = addr.IP.String()
	}
	return &session{s: s, helo: c.Hostname(), remote: remote}, nil
}

// Mail starts a transaction. go-smtp takes a second MAIL FROM without RSET: the recipients
// accepted under the first are dropped, so none of them is sent a message under another
// envelope sender than the one it was accepted with.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from, ss.routes = strings.ToLower(from), nil
	return nil
}

// Rcpt accepts to only when the peer is within its RCPT limit and to resolves to a route (see
// the package comment for the rules).
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := context.WithTimeout(ss.s.ctx, lookupTimeout)
	defer cancel()
	ok, err := ss.s.allowRcpt(ctx, ss.remote)
	if err != nil {
		ss.s.cfg.Logger.Error("relay: rcpt limiter", "remote", ss.remote, "error", mail.RedactAddresses(err.Error()))
		return errLookup
	}
	// Refusals log the sender and the recipient by their domains only: the recipient may be a
	// person's alias, and the sender someone who writes to it.
	if !ok {
		ss.s.cfg.Logger.Info("relay: recipient refused", "from", mail.RedactAddresses(ss.from), "to", mail.RedactAddresses(to),
			"remote", ss.remote, "reason", "rcpt limit", "reply", errThrottled.Error())
		return errThrottled
	}
	r, reason, err := ss.s.resolve(ctx, ss.from, to)
	if err != nil {
		ss.s.cfg.Logger.Info("relay: recipient refused", "from", mail.RedactAddresses(ss.from), "to", mail.RedactAddresses(to),
			"remote", ss.remote, "reason", reason, "reply", err.Error())
		return err
	}
	for _, have := range ss.routes {
		if have.rcpt == r.rcpt {
			return nil
		}
	}
	ss.routes = append(ss.routes, r)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if len(ss.routes) == 0 {
		return errNoRecipients // the recipients were accepted before a second MAIL FROM
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp's size limit error is already a 552
	}
	if bareLineBreak(raw) {
		ss.s.cfg.Logger.Info("relay: message refused", "from", mail.RedactAddresses(ss.from), "remote", ss.remote,
			"reason", "bare CR or LF", "reply", errBareLineBreak.Error())
		return errBareLineBreak
	}
	return ss.s.deliver(ss, raw)
}

func (ss *session) Reset() {
	ss.from, ss.routes = "", nil
}

func (ss *session) Logout() error { return nil }

// resolve maps a RCPT TO address to its route, or to the SMTP error that refuses it and the
// reason, for the log only: the reply itself is the same for every alias that takes no mail.
func (s *Server) resolve(ctx context.Context, from, to string) (route, string, error) {
	local, domain, ok := splitAddress(to)
	if !ok {
		return route{}, "bad address", errBadAddress
	}
	if !equalFoldASCII(domain, s.cfg.Domain) {
		return route{}, "foreign domain", errRelayDenied
	}
	local = lowerASCII(local)
	rcpt := local + "@" + s.cfg.Domain
	if local == noReplyLocal {
		return route{}, "no-reply address", errNoMailbox
	}
	if token, isReverse := strings.CutPrefix(local, reverseAliasPrefix); isReverse && wellFormedToken(token) {
		return resolveReverse(from, rcpt, token)
	}
	return s.resolveAlias(ctx, rcpt)
}

// resolveAlias finds the connection whose alias is rcpt and checks that it takes mail. The
// alias of an application being deleted (portal.DeleteApplication) takes none already, as
// the retired alias it is about to be.
func (s *Server) resolveAlias(ctx context.Context, rcpt string) (route, string, error) {
	conn, err := s.db.AppConnection.Query().
		Where(appconnection.AliasEmail(rcpt)).
		WithUser().
		WithApplication(func(q *ent.ApplicationQuery) { q.Select(application.FieldDeletingSince) }).
		Only(ctx)
	switch {
	case store.NotFound(err) && s.retired(ctx, rcpt):
		return route{}, "retired", errNoMailbox
	case store.NotFound(err):
		return route{}, "unknown", errNoMailbox
	case err != nil:
		s.cfg.Logger.Error("relay: alias lookup", "error", mail.RedactAddresses(err.Error()))
		return route{}, "lookup failed", errLookup
	}
	if reason := notTakingMail(conn); reason != "" {
		return route{}, reason, errNoMailbox
	}
	return route{rcpt: rcpt, conn: conn}, "", nil
}

// notTakingMail is why the connection conn, loaded with its application's deleting_since,
// takes no mail: "blocked", "not forwarding", "muted" or "application being deleted"; "" when
// it takes mail.
func notTakingMail(conn *ent.AppConnection) string {
	switch {
	case conn.Blocked:
		return "blocked"
	case !conn.IsForwarding:
		return "not forwarding"
	case conn.EmailMuted:
		return "muted"
	case conn.Edges.Application.DeletingSince != nil:
		return "application being deleted"
	}
	return ""
}

// resolveAgain reads the connections of the forward routes of routes again at DATA, in one
// query, as resolveAlias did at RCPT, and returns routes with each forward's connection (and
// person) as read now; ended[i] is true when routes[i] is a forward whose alias no longer
// takes mail (its connection gone or notTakingMail). Reply routes are read at DATA anyway
// (authorizeReplies) and are returned as they are. The error is errLookup when the query
// failed.
func (s *Server) resolveAgain(routes []route) (_ []route, ended []bool, _ error) {
	routes = slices.Clone(routes)
	ended = make([]bool, len(routes))
	var aliases []string
	for _, r := range routes {
		if !r.isReply() {
			aliases = append(aliases, r.rcpt)
		}
	}
	if len(aliases) == 0 {
		return routes, ended, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, lookupTimeout)
	defer cancel()
	conns, err := s.db.AppConnection.Query().
		Where(appconnection.AliasEmailIn(aliases...)).
		WithUser().
		WithApplication(func(q *ent.ApplicationQuery) { q.Select(application.FieldDeletingSince) }).
		All(ctx)
	if err != nil {
		s.cfg.Logger.Error("relay: alias lookup at DATA", "error", mail.RedactAddresses(err.Error()))
		return nil, nil, errLookup
	}
	for i, r := range routes {
		if r.isReply() {
			continue
		}
		reason := "gone"
		for _, c := range conns {
			if c.AliasEmail == r.rcpt {
				routes[i].conn, reason = c, notTakingMail(c)
				break
			}
		}
		if reason != "" {
			ended[i] = true
			// The connection id, not the alias: next to the mail package's lines it would tie
			// the alias to the person.
			s.cfg.Logger.Info("relay: recipient refused at DATA", "connection", r.conn.ID, "reason", reason)
		}
	}
	return routes, ended, nil
}

// retired reports whether address belonged to a deleted connection.
func (s *Server) retired(ctx context.Context, address string) bool {
	ok, err := s.db.RetiredAlias.Query().Where(retiredalias.Address(address)).Exist(ctx)
	return err == nil && ok
}

// resolveReverse accepts any well-formed reverse alias from any sender but the null one,
// without looking it up: whether the token exists, whose it is and whether its connection is
// blocked, muted or deleted is decided at DATA, after the message proved who wrote it
// (authorizeReplies), and answered there with the same errReplyRefused for every refusal. A
// lookup here would answer differently for a live reverse alias, or for the person's real
// address as envelope sender, to anyone who learned the reverse alias from a quoted reply.
// The null sender (a bounce of a forward, an automatic answer) is refused whatever the token:
// no report of the person's mail system reaches a contact.
func resolveReverse(from, rcpt, token string) (route, string, error) {
	if from == "" {
		return route{}, "null sender to a reverse alias", errReplyRefused
	}
	return route{rcpt: rcpt, token: token}, "", nil
}

// wellFormedToken reports whether token could be a reverse alias's (ids.RandomLower): 1 to
// maxTokenLength characters of [a-z0-9].
func wellFormedToken(token string) bool {
	if token == "" || len(token) > maxTokenLength {
		return false
	}
	for _, c := range []byte(token) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// isOwnerAddress reports whether addr is the primary or a verified alternative address of the
// connection's person, in any ASCII case (equalFoldASCII). The alternatives are compared here,
// not in SQL: ent's EqualFold lower-cases addr with Unicode rules (KELVIN SIGN becomes "k"), and
// PostgreSQL's ILIKE folds by its locale.
func (s *Server) isOwnerAddress(ctx context.Context, conn *ent.AppConnection, addr string) (bool, error) {
	if addr == "" {
		return false, nil
	}
	if equalFoldASCII(conn.Edges.User.Email, addr) {
		return true, nil
	}
	verified, err := s.db.UserEmail.Query().
		Where(useremail.UserID(conn.UserID), useremail.VerifiedAtNotNil()).
		Select(useremail.FieldEmail).
		Strings(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(verified, func(e string) bool { return equalFoldASCII(e, addr) }), nil
}

// equalFoldASCII reports whether a and b are equal when ASCII letters are compared without
// case, and every other byte as it is. Domains on the wire are ASCII (the relay offers no
// SMTPUTF8) and so are the relay's aliases, so this is the only case folding that names the
// same mailbox; strings.EqualFold also folds U+017F LATIN SMALL LETTER LONG S to "s" and U+212A
// KELVIN SIGN to "k", which would make "relay.te\u017ft" the relay domain.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCIIByte(a[i]) != lowerASCIIByte(b[i]) {
			return false
		}
	}
	return true
}

// lowerASCII is s with its ASCII letters lower-cased and every other byte as it is (see
// equalFoldASCII; strings.ToLower would turn KELVIN SIGN into "k").
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCIIByte(c)
	}
	return string(b)
}

func lowerASCIIByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// splitAddress splits local@domain. It refuses empty parts, more than one @, and characters
// that have no place in a mailbox we serve (spaces, control characters, quotes).
func splitAddress(addr string) (local, domain string, ok bool) {
	local, domain, ok = strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(addr) > 254 {
		return "", "", false
	}
	if strings.ContainsFunc(addr, func(r rune) bool { return r <= ' ' || r == '"' || r == 0x7f }) {
		return "", "", false
	}
	return local, domain, true
}
