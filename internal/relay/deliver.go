package relay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/ent/relaycontact"
	"loginsign/ent/useremail"
	"loginsign/internal/ids"
	"loginsign/internal/mail"
	"loginsign/internal/store"
)

// relayHeader marks each pass through the relay; its count detects loops.
const relayHeader = "X-Loginsign-Relay"

// deliver sends raw to every route of the session and maps the outcome to the DATA reply
// (see the package comment).
func (s *Server) deliver(ss *session, raw []byte) error {
	header, body, err := splitMessage(raw)
	if errors.Is(err, errHeaderTooLarge) {
		s.cfg.Logger.Info("relay: message refused", "from", mail.RedactAddresses(ss.from), "remote", ss.remote,
			"reason", "header too large", "reply", errHeaderTooLarge.Error())
		return errHeaderTooLarge
	}
	if err != nil {
		return errMalformed
	}
	if header.FieldsByKey(relayHeader).Len() >= maxHops {
		return errLoop
	}
	ss.calendars = newCalendarCache()
	defer func() { ss.calendars = nil }()
	// A transaction with several recipients may have been served in part by an earlier try
	// that answered 451: the sender's retry of the same message serves only the rest, and
	// counts only the rest in the person's reply limit.
	keys := sentKeys(ss.from, ss.routes, raw)
	sent, err := s.sentBefore(keys, len(ss.routes))
	if err != nil {
		s.cfg.Logger.Error("relay: earlier deliveries", "error", mail.RedactAddresses(err.Error()))
		return errLookup
	}
	// An alias that stopped taking mail since its RCPT (the person removed the app or closed
	// their account, muted it or turned forwarding off, it was blocked, the application is
	// being deleted) takes none now: a sender that kept its transaction open with NOOPs would
	// otherwise reach the person's real address read at RCPT. Its route is dropped, with its
	// entries of sent and keys; the message is refused like one to an unknown alias when no
	// route is left, and the sender is told of the dropped ones (notifySender) otherwise.
	routes, ended, err := s.resolveAgain(ss.routes)
	if err != nil {
		return err
	}
	var gone []route
	for i := len(routes) - 1; i >= 0; i-- {
		if ended[i] {
			gone = append(gone, routes[i])
			routes, sent = slices.Delete(routes, i, i+1), slices.Delete(sent, i, i+1)
			if keys != nil {
				keys = slices.Delete(keys, i, i+1)
			}
		}
	}
	if len(routes) == 0 {
		return errNoMailbox
	}
	routes, err = s.authorizeReplies(ss, routes, header, raw, body, sent)
	if err != nil {
		return err
	}
	var from sender
	if slices.ContainsFunc(routes, func(r route) bool { return !r.isReply() }) {
		if from, err = s.checkSender(ss, routes, header, raw); err != nil {
			return err
		}
		// A calendar part passed on as it is would have the person's client answer its
		// ORGANIZER from the person's real address: one the relay cannot rewrite refuses the
		// message (calendar.go). The outcome depends on the message alone.
		if reason := checkCalendarsCached(header, body, ss.calendars); reason != "" {
			s.cfg.Logger.Info("relay: forward refused", "connections", connectionIDs(routes), "from", mail.RedactAddresses(ss.from),
				"remote", ss.remote, "reason", reason, "reply", errCalendarUnreadable.Error())
			return errCalendarUnreadable
		}
	}
	var delivered int
	var temporary bool
	var served []int              // served by this try
	refused := slices.Clone(gone) // refused for good by this try, or no longer taking mail
	for i, r := range routes {
		if sent[i] {
			delivered++
			continue
		}
		err := s.deliverOne(ss, r, from, header, body)
		if err == nil {
			delivered++
			served = append(served, i)
			continue
		}
		var local localError
		if mail.IsTemporary(err) || errors.As(err, &local) {
			temporary = true
		} else {
			refused = append(refused, r)
		}
		s.cfg.Logger.Error("relay: delivery failed", r.logAttrs("error", mail.RedactAddresses(err.Error()))...)
	}
	switch {
	case temporary:
		// Also when other recipients were served: a 250 would lose this one's mail for good.
		// They are not served twice (markSent), unless remembering them failed; the replies
		// left for the retry give back their count, which the retry takes again.
		s.markSent(keys, served)
		s.returnReplies(routes, sent, served)
		return errDeferred
	case delivered > 0:
		s.notifySender(ss, header, refused)
		return nil
	default:
		return errUndelivered
	}
}

// localError is the relay's own failure to build a message (a reverse alias or the person's
// addresses that could not be read or written): the sender is told to try again, as at RCPT
// (errLookup), never that the mail cannot be delivered.
type localError struct{ error }

func (e localError) Unwrap() error { return e.error }

// sentTTL is how long the relay remembers which recipients of a transaction with several it
// served: as long as a sender retries a deferred message (five days at most, in the
// defaults of Postfix, Exim and Sendmail).
const sentTTL = 5 * 24 * time.Hour

// sentKeys are the keys under which deliver remembers each route of a transaction with
// several recipients as served, by a hash of the envelope sender, the route's address and
// the message (a retry sends the same bytes), so that no alias or address shows in the
// store; nil for one route, which is never served in part.
func sentKeys(from string, routes []route, raw []byte) []string {
	if len(routes) < 2 {
		return nil
	}
	message := sha256.Sum256(raw)
	keys := make([]string, len(routes))
	for i, r := range routes {
		h := sha256.New()
		h.Write([]byte(from + "\x00" + r.rcpt + "\x00"))
		h.Write(message[:])
		keys[i] = "relay:sent:" + hex.EncodeToString(h.Sum(nil))
	}
	return keys
}

// sentBefore reports, for each of n routes whose keys are keys (sentKeys), whether an earlier
// try served it.
func (s *Server) sentBefore(keys []string, n int) ([]bool, error) {
	sent := make([]bool, n)
	if keys == nil {
		return sent, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, lookupTimeout)
	defer cancel()
	vals, err := s.cfg.KV.GetEach(ctx, keys...)
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		sent[i] = v != nil
	}
	return sent, nil
}

// markSent remembers the routes served (indexes into keys, sentKeys) of a transaction
// answered 451, in one round trip. Only such a transaction is retried, so only its routes are
// remembered: every message to several recipients would otherwise leave a key each for five
// days, which anyone who may send to two masked addresses could pile up in the store. A
// failure is logged: the sender's retry then serves those routes again (a duplicate, not a
// loss); so does a process that dies between two routes.
func (s *Server) markSent(keys []string, served []int) {
	if keys == nil || len(served) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, lookupTimeout)
	defer cancel()
	pipe := s.cfg.KV.Pipeline()
	for _, i := range served {
		pipe.Set(ctx, keys[i], "1", sentTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.cfg.Logger.Error("relay: remembering deliveries", "error", mail.RedactAddresses(err.Error()))
	}
}

// deliverOne forwards (or, for a reverse alias, replies) to one route; from is what
// checkSender found for a forward.
func (s *Server) deliverOne(ss *session, r route, from sender, header textproto.Header, body []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, sendTimeout)
	defer cancel()
	var m mail.Message
	var err error
	if r.isReply() {
		m, err = s.reply(ctx, r, header.Copy(), body, ss.calendars)
	} else {
		m, err = s.forward(ctx, ss, r, from, header.Copy(), body)
	}
	if err != nil {
		return localError{err}
	}
	if err := s.out.Send(ctx, m); err != nil {
		return err
	}
	s.cfg.Logger.Info("relay: delivered", r.logAttrs("bytes", len(m.Raw))...)
	return nil
}

// logAttrs are the attributes that name r in a log line, followed by more: the kind of
// delivery, the connection and, for a reply, the reverse alias's RelayContact id. A line never
// names the alias, the reverse alias or a real address: next to each other, or next to the mail
// package's line for the same delivery, they would tie the person's address to the alias and
// so to the app.
func (r route) logAttrs(more ...any) []any {
	attrs := []any{"kind", "forward", "connection", r.conn.ID}
	if r.isReply() {
		attrs = []any{"kind", "reply", "connection", r.conn.ID, "contact", r.contact.ID}
	}
	return append(attrs, more...)
}

// forward builds the mail to the alias owner (package comment, "Forwarding"); author is what
// checkSender found.
func (s *Server) forward(ctx context.Context, ss *session, r route, author sender, header textproto.Header, body []byte) (mail.Message, error) {
	now := s.cfg.Now()
	h := gomail.Header{Header: message.Header{Header: header}}
	replyTo := originalSender(h, ss.from)
	originalFrom := unfold(h.Get("From"))
	own, err := s.ownAuthor(ctx, r.conn, author)
	if err != nil {
		return mail.Message{}, fmt.Errorf("addresses of the person: %w", err)
	}

	// Without a reverse alias, the forward comes from the relay's address that takes no mail,
	// so that bounces and automatic answers end there instead of coming back to the alias.
	noReply := noReplyLocal + "@" + s.cfg.Domain
	envelopeFrom := noReply
	from := &gomail.Address{Name: "Unknown sender via LoginSign", Address: noReply}
	var reverse string
	// Every reverse alias this forward makes or stamps is the masker's, so that none of them
	// replaces another under the contact limit (Server.contact).
	masker := s.newParticipantMasker(r.conn.ID, r.rcpt, now)
	switch {
	case own:
		// The person wrote to their own alias. No reverse alias may hold their own address: in
		// the Cc of their replies it would turn back into that address (unmaskParticipants).
		from = &gomail.Address{Name: displayName(author.author, "", false), Address: noReply}
	case replyTo != nil:
		contact, err := masker.contact(ctx, strings.ToLower(replyTo.Address))
		if err != nil {
			return mail.Message{}, fmt.Errorf("reverse alias of the sender: %w", err)
		}
		reverse = reverseAliasPrefix + contact.Token + "@" + s.cfg.Domain
		envelopeFrom = reverse
		// The name shows who the mail is from, not where a reply goes: a Reply-To cannot
		// lend its address to a From that was not verified. Where a reply goes is named too
		// when it is not the From address.
		shown, repliesTo := author.author, ""
		if shown == nil {
			shown = replyTo
		}
		if !strings.EqualFold(shown.Address, replyTo.Address) {
			repliesTo = replyTo.Address
		}
		from = &gomail.Address{Name: displayName(shown, repliesTo, !author.verified), Address: reverse}
	}

	for _, k := range []string{"From", "Reply-To", "Sender", "Return-Path", "Dkim-Signature", "X-Original-From",
		"Authentication-Results", "Received-Spf"} {
		h.Del(k)
	}
	// The sender's claims of authentication are the sender's: only ours (author.results) stays.
	for f := h.Fields(); f.Next(); {
		if strings.HasPrefix(f.Key(), "Arc-") {
			f.Del()
		}
	}
	scrubForward(&h.Header.Header)
	forwardMessageIDs(&h.Header.Header, s.cfg.Domain)
	if err := s.maskParticipants(ctx, &h, masker); err != nil {
		return mail.Message{}, fmt.Errorf("reverse aliases of the participants: %w", err)
	}
	// Only the calendar parts change (calendar.go); the sender's DKIM-Signature, which that
	// breaks, is removed above anyway. deliver checked that they can all be read.
	body, err = maskCalendarsCached(ctx, h.Header.Header, body, masker, ss.calendars)
	if err != nil {
		return mail.Message{}, fmt.Errorf("reverse aliases of the calendar parts: %w", err)
	}
	// Added fields go on top, so the last Add is the first line.
	if originalFrom != "" {
		h.Add("X-Original-From", originalFrom)
	}
	if reverse != "" {
		h.SetAddressList("Reply-To", []*gomail.Address{{Address: reverse}})
	}
	h.SetAddressList("From", []*gomail.Address{from})
	h.Add("Authentication-Results", author.results)
	h.Add(relayHeader, "forward")
	h.Add("Received", s.received(ss, r.rcpt, now))

	raw, err := assemble(h.Header.Header, body)
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: r.conn.Edges.User.Email, EnvelopeFrom: envelopeFrom, Raw: raw, Kind: "relay_forward"}, nil
}

// ownAuthor reports whether a forward's From is one of the person's own addresses and passed
// DMARC (checkSender). Only the person can pass it for their own address, so a sender cannot
// learn from its outcome whether a From they forged is the person's.
func (s *Server) ownAuthor(ctx context.Context, conn *ent.AppConnection, author sender) (bool, error) {
	if !author.verified || author.author == nil {
		return false, nil
	}
	addresses, err := s.personAddresses(ctx, conn)
	if err != nil {
		return false, err
	}
	return slices.Contains(addresses, strings.ToLower(author.author.Address)), nil
}

// reply builds the mail from the alias owner back to a contact (package comment, "Replying").
func (s *Server) reply(ctx context.Context, r route, header textproto.Header, body []byte, calendars calendarCache) (mail.Message, error) {
	now := s.cfg.Now()
	// replied_at protects the contact under the contact limit (Server.contact): a sender
	// cannot set it, so no flood of new senders replaces the person's correspondents.
	if err := s.db.RelayContact.UpdateOneID(r.contact.ID).SetLastUsedAt(now).SetRepliedAt(now).Exec(ctx); err != nil {
		return mail.Message{}, fmt.Errorf("stamping the reverse alias: %w", err)
	}
	addresses, err := s.personAddresses(ctx, r.conn)
	if err != nil {
		return mail.Message{}, fmt.Errorf("addresses of the person: %w", err)
	}
	alias := r.conn.AliasEmail
	h := gomail.Header{Header: message.Header{Header: header}}
	// The scrub runs on what the person's client wrote, before reverse aliases in Cc turn into
	// the addresses a sender had put there (a guess of the person's address among them).
	scrubReply(&h.Header.Header, addresses, s.cfg.Domain)
	if err := s.unmaskParticipants(ctx, &h, r.conn.ID); err != nil {
		return mail.Message{}, fmt.Errorf("reverse aliases in Cc: %w", err)
	}
	utcDate(&h.Header.Header, now)
	if body, err = newContentIDs(s.cfg.Domain).rewrite(&h.Header.Header, body); err != nil {
		return mail.Message{}, fmt.Errorf("content ids: %w", err)
	}
	if err := h.GenerateMessageIDWithHostname(s.cfg.Domain); err != nil {
		return mail.Message{}, err
	}
	h.SetAddressList("To", []*gomail.Address{{Address: r.contact.ContactAddress}})
	h.SetAddressList("From", []*gomail.Address{{Address: alias}})
	h.Add(relayHeader, "reply")
	// An iTIP REPLY names the person as its ATTENDEE (calendar.go); checkReplyBody checked that
	// every calendar part can be read. The person's DKIM-Signature is not kept anyway.
	body, err = s.replyCalendarsCached(ctx, r, h.Header.Header, body, calendars)
	if err != nil {
		return mail.Message{}, fmt.Errorf("calendar parts: %w", err)
	}
	// The parts' own headers: their non-Content-* fields go, and the addresses of their
	// Content-* fields are mapped (replyParts), none of it reading the person's addresses.
	if body, err = s.replyPartHeaders(ctx, r, h.Header.Header, body); err != nil {
		return mail.Message{}, fmt.Errorf("part headers: %w", err)
	}

	raw, err := assemble(h.Header.Header, body)
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: r.contact.ContactAddress, EnvelopeFrom: alias, Raw: raw, Kind: "relay_reply"}, nil
}

// authorizeReplies returns routes (the session's, resolveAgain) with the contact and connection
// of each reply route, once the message (raw, whose body is body) proved it may leave as their aliases, in
// this order: its one From field names exactly one address; the message passes DMARC-aligned
// SPF or DKIM for that address's domain (authenticate), a DKIM signature only when the To or
// Cc it covers names every reverse alias of the transaction; every reverse alias exists, its
// connection is not blocked and its application is not being deleted; the From address is the owner's (primary or verified
// alternative) for each. The person's data is read only after the message proved its author,
// and every refusal is the same errReplyRefused (451 4.7.26 when DNS failed temporarily,
// which depends on the From domain alone), so a reverse alias tells a stranger nothing: not
// whether a guessed address is the person's, nor whether the connection is muted, blocked or
// gone. Then the body must pass checkReplyBody, and the recipients an earlier try did not
// serve (sent, sentBefore) the person's reply limit. Otherwise it returns the refusal of the
// whole message: nothing is sent, not even the forwards of the same transaction.
func (s *Server) authorizeReplies(ss *session, routes []route, header textproto.Header, raw, body []byte, sent []bool) ([]route, error) {
	routes = slices.Clone(routes)
	if !slices.ContainsFunc(routes, route.isReply) {
		return routes, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, authTimeout)
	defer cancel()
	// The log never names the author's address: it is the person's real one (or a guess), and
	// the line would tie it to the aliases.
	refuse := func(reason string, attrs ...any) ([]route, error) {
		s.cfg.Logger.Info("relay: reply refused", append([]any{"remote", ss.remote, "reason", reason}, attrs...)...)
		return nil, errReplyRefused
	}
	h := gomail.Header{Header: message.Header{Header: header}}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || header.FieldsByKey("From").Len() != 1 { // RFC 7489 section 6.6.1
		return refuse("From is not one address")
	}
	// ASCII case only: Unicode folding would make "\u212aate@…" (KELVIN SIGN) the owner "kate@…".
	author := lowerASCII(from[0].Address)
	domain := domainOf(author)
	var reverseAliases []string
	for _, r := range routes {
		if r.isReply() {
			reverseAliases = append(reverseAliases, r.rcpt)
		}
	}
	how, err := s.authenticate(ctx, net.ParseIP(ss.remote), ss.helo, ss.from, domain, raw, header, reverseAliases)
	if err != nil {
		s.cfg.Logger.Info("relay: reply refused", "remote", ss.remote, "reason", "not authenticated", "reply", mail.RedactAddresses(err.Error()))
		return nil, err
	}
	var replies []route
	var unsent int // reply routes an earlier try did not serve
	for i, r := range routes {
		if !r.isReply() {
			continue
		}
		contact, err := s.db.RelayContact.Query().
			Where(relaycontact.Token(r.token)).
			WithConnection(func(q *ent.AppConnectionQuery) {
				q.WithUser().WithApplication(func(q *ent.ApplicationQuery) { q.Select(application.FieldDeletingSince) })
			}).
			Only(ctx)
		switch {
		case store.NotFound(err):
			return refuse("unknown reverse alias")
		case err != nil:
			s.cfg.Logger.Error("relay: reverse alias lookup", "error", mail.RedactAddresses(err.Error()))
			return nil, errLookup
		}
		conn := contact.Edges.Connection
		if conn.Blocked {
			return refuse("blocked", "connection", conn.ID)
		}
		// The connections of an application being deleted end batch by batch; its reverse
		// aliases end with the deletion's start, as its aliases do (notTakingMail).
		if conn.Edges.Application.DeletingSince != nil {
			return refuse("application being deleted", "connection", conn.ID)
		}
		owner, err := s.isOwnerAddress(ctx, conn, author)
		if err != nil {
			s.cfg.Logger.Error("relay: author lookup", "connection", conn.ID, "error", mail.RedactAddresses(err.Error()))
			return nil, errLookup
		}
		if !owner {
			return refuse("From is not the owner", "connection", conn.ID)
		}
		routes[i].conn, routes[i].contact = conn, contact
		replies = append(replies, routes[i])
		if !sent[i] {
			unsent++
		}
	}
	connections := connectionIDs(replies)
	s.cfg.Logger.Info("relay: reply authenticated", "connections", connections, "remote", ss.remote, "by", how)
	if err := s.checkReplyBody(ctx, ss, replies, header, body); err != nil {
		return nil, err
	}
	// Every reply route is the same person's (each owner check above passed for the one From).
	ok, err := s.allowReplies(ctx, replies[0].conn.UserID, unsent)
	if err != nil {
		s.cfg.Logger.Error("relay: reply limiter", "connections", connections, "error", mail.RedactAddresses(err.Error()))
		return nil, errLookup
	}
	if !ok {
		s.cfg.Logger.Info("relay: reply refused", "connections", connections, "remote", ss.remote, "reason", "reply limit", "reply", errRepliesThrottled.Error())
		return nil, errRepliesThrottled
	}
	return routes, nil
}

// checkReplyBody refuses with errReplyContent a message to the authorized reply routes replies
// whose MIME tree carries what would show the contact the person's address or mail system
// (replyBodyRefusal). authorizeReplies runs it once the message proved its author, so only the
// person ever gets its answer.
func (s *Server) checkReplyBody(ctx context.Context, ss *session, replies []route, header textproto.Header, body []byte) error {
	var addresses []string
	for _, r := range replies {
		own, err := s.personAddresses(ctx, r.conn)
		if err != nil {
			s.cfg.Logger.Error("relay: person lookup", "connection", r.conn.ID, "error", mail.RedactAddresses(err.Error()))
			return errLookup
		}
		addresses = append(addresses, own...)
	}
	reason := replyBodyRefusal(header, body, addresses)
	if reason == "" {
		reason = checkCalendarsCached(header, body, ss.calendars)
	}
	if reason != "" {
		s.cfg.Logger.Info("relay: reply refused", "connections", connectionIDs(replies), "remote", ss.remote, "reason", reason)
		return errReplyContent
	}
	return nil
}

// connectionIDs are the distinct connections of routes, in order, for the log; reply routes
// not yet authorized (authorizeReplies) have none.
func connectionIDs(routes []route) []string {
	var out []string
	for _, r := range routes {
		if r.conn != nil && !slices.Contains(out, r.conn.ID) {
			out = append(out, r.conn.ID)
		}
	}
	return out
}

// personAddresses returns the real addresses of the connection's person, lower-cased: the
// primary, the address shared with the app and every alternative, verified or not.
func (s *Server) personAddresses(ctx context.Context, conn *ent.AppConnection) ([]string, error) {
	others, err := s.db.UserEmail.Query().Where(useremail.UserID(conn.UserID)).Select(useremail.FieldEmail).Strings(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range append([]string{conn.Edges.User.Email, conn.AppEmail}, others...) {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// maxMaskedParticipants bounds the distinct addresses of one forward that get a reverse alias
// (To, Cc and calendar parts together, participantMasker); addresses past it are dropped.
const maxMaskedParticipants = 50

// participantMasker gives the addresses a forward to the alias own names reverse aliases of
// its connection, each address once per message, at most maxMaskedParticipants of them. It
// also makes the reverse alias of the forward's sender (contact), and knows every reverse
// alias of the message, which the contact limit must not replace by one another.
type participantMasker struct {
	s            *Server
	connectionID string
	own          string
	now          time.Time
	reverse      map[string]string // address → reverse alias, for this message
	ids          []string          // RelayContact ids made or stamped for this message
	// prepared are the reverse aliases prepare made or stamped, by address (lower-cased).
	prepared map[string]*ent.RelayContact
}

func (s *Server) newParticipantMasker(connectionID, own string, now time.Time) *participantMasker {
	return &participantMasker{s: s, connectionID: connectionID, own: strings.ToLower(own), now: now, reverse: map[string]string{},
		prepared: map[string]*ent.RelayContact{}}
}

// prepare makes or stamps at once the reverse aliases of the addresses of list (in order, as
// maskParticipants reads them) that mask would give one: not m's own, not masked yet, up to
// maxMaskedParticipants in all. It reads those that exist in one statement and stamps them in
// another, makes room for the others (makeRoomForContacts) and inserts them in one more.
// Made one by one (Server.contact), each cost two statements, or four to six once the
// connection was at its contact limit: a forward with 50 Cc about 250, and one message to 50
// aliases 50 times that, for anyone who can send mail. What prepare could not make (the insert
// fails whole on a concurrent creation of the same pair or a token collision) mask makes one
// by one, as before.
func (m *participantMasker) prepare(ctx context.Context, list []*gomail.Address) error {
	// mask gives the first addresses not masked yet a reverse alias, up to the cap: those
	// made already (the sender's, by contact) count toward it too, but need no statement.
	var want []string
	seen := map[string]bool{}
	for _, a := range list {
		if len(m.reverse)+len(seen) == maxMaskedParticipants {
			break
		}
		address := strings.ToLower(a.Address)
		if equalFoldASCII(a.Address, m.own) || m.reverse[address] != "" || seen[address] {
			continue
		}
		seen[address] = true
		if m.prepared[address] == nil {
			want = append(want, address)
		}
	}
	if len(want) == 0 {
		return nil
	}
	db := m.s.db
	found, err := db.RelayContact.Query().
		Where(relaycontact.ConnectionID(m.connectionID), relaycontact.ContactAddressIn(want...)).All(ctx)
	if err != nil {
		return err
	}
	var stamped []string
	for _, c := range found {
		m.keep(c)
		stamped = append(stamped, c.ID)
	}
	if len(stamped) > 0 {
		if err := db.RelayContact.Update().Where(relaycontact.IDIn(stamped...)).SetLastUsedAt(m.now).Exec(ctx); err != nil {
			return err
		}
	}
	var create []*ent.RelayContactCreate
	for _, address := range want {
		if m.prepared[address] == nil {
			create = append(create, db.RelayContact.Create().SetConnectionID(m.connectionID).SetContactAddress(address).
				SetToken(ids.RandomLower(20)).SetCreatedAt(m.now).SetLastUsedAt(m.now))
		}
	}
	if len(create) == 0 {
		return nil
	}
	if err := m.s.makeRoomForContacts(ctx, m.connectionID, m.ids, len(create)); err != nil {
		return fmt.Errorf("contact limit: %w", err)
	}
	made, err := db.RelayContact.CreateBulk(create...).Save(ctx)
	if store.Conflict(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range made {
		m.keep(c)
	}
	return nil
}

// keep records c, made or stamped for this message.
func (m *participantMasker) keep(c *ent.RelayContact) {
	m.prepared[c.ContactAddress] = c
	if !slices.Contains(m.ids, c.ID) {
		m.ids = append(m.ids, c.ID)
	}
}

// mask returns the reverse alias of address (lower-cased), made or stamped by contact; ok is
// false when the message already named maxMaskedParticipants other addresses.
func (m *participantMasker) mask(ctx context.Context, address string) (reverse string, ok bool, err error) {
	if reverse, ok := m.reverse[address]; ok {
		return reverse, true, nil
	}
	if len(m.reverse) == maxMaskedParticipants {
		return "", false, nil
	}
	c, err := m.contact(ctx, address)
	if err != nil {
		return "", false, err
	}
	m.reverse[address] = reverseAliasPrefix + c.Token + "@" + m.s.cfg.Domain
	return m.reverse[address], true, nil
}

// contact returns the reverse alias of address (lower-cased) for this message (Server.contact),
// keeping the others of the message from being replaced for it.
func (m *participantMasker) contact(ctx context.Context, address string) (*ent.RelayContact, error) {
	if c := m.prepared[address]; c != nil {
		return c, nil
	}
	c, err := m.s.contact(ctx, m.connectionID, address, m.now, m.ids)
	if err != nil {
		return nil, err
	}
	m.keep(c)
	return c, nil
}

// maskParticipants replaces every To and Cc address of a forward but m's own (the alias it was
// sent to) by its reverse alias (m.mask), named like From (displayName). A "reply all" of the
// person then goes through the relay to every participant, instead of from the person's real
// address to the ones the sender copied. That includes other addresses on Domain: another
// person's alias (an attacker's own, copied in) forwards what it gets, the sender's real
// address included, so the person's reply must reach it from their alias too. Several To (or
// Cc) fields are read as one list, so none escapes. A To or Cc field that does not parse as an
// address list is removed. Addresses m cannot mask (past maxMaskedParticipants) are dropped.
// Their reverse aliases are made or stamped together first (m.prepare).
func (s *Server) maskParticipants(ctx context.Context, h *gomail.Header, m *participantMasker) error {
	lists := map[string][]*gomail.Address{}
	var all []*gomail.Address
	for _, k := range []string{"To", "Cc"} {
		if !h.Has(k) {
			continue
		}
		if vs := h.Values(k); len(vs) > 1 {
			h.Set(k, strings.Join(vs, ", ")) // malformed (RFC 5322 allows one), read as one list
		}
		list, err := h.AddressList(k)
		if err != nil {
			h.Del(k)
			continue
		}
		lists[k], all = list, append(all, list...)
	}
	if err := m.prepare(ctx, all); err != nil {
		return err
	}
	for _, k := range []string{"To", "Cc"} {
		list, ok := lists[k]
		if !ok {
			continue
		}
		if len(list) == 0 {
			continue // "undisclosed-recipients:;"
		}
		var out []*gomail.Address
		changed := false
		for _, a := range list {
			if equalFoldASCII(a.Address, m.own) {
				out = append(out, a)
				continue
			}
			reverse, ok, err := m.mask(ctx, strings.ToLower(a.Address))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			changed = true
			out = append(out, &gomail.Address{Name: displayName(a, "", false), Address: reverse})
		}
		switch {
		case len(out) == 0:
			h.Del(k)
		case len(out) != len(list) || changed:
			h.SetAddressList(k, out)
		}
	}
	return nil
}

// unmaskParticipants is the way back for the Cc of a reply: a reverse alias of connectionID
// becomes its contact's address (with no name), so the contact sees the participants as they
// were; any other reverse alias on Domain, which the contact could not use, is removed, and so
// is one past the first maxMaskedParticipants distinct ones.
// Several Cc fields are read as one list. It runs after scrubReply: an address it writes is
// one a sender put in the forward, which nothing may remove or keep depending on whether it
// is the person's.
func (s *Server) unmaskParticipants(ctx context.Context, h *gomail.Header, connectionID string) error {
	if !h.Has("Cc") {
		return nil
	}
	if vs := h.Values("Cc"); len(vs) > 1 {
		h.Set("Cc", strings.Join(vs, ", "))
	}
	list, err := h.AddressList("Cc")
	if err != nil {
		return nil // kept as scrubReply left it
	}
	// The reverse aliases are looked up together, the first maxMaskedParticipants distinct
	// ones (as many as a forward names): one by one, a Cc of thousands (the header holds 256
	// KiB) cost a statement each, for every reverse alias of the transaction.
	tokenOf := func(a *gomail.Address) (string, bool) {
		address := lowerASCII(a.Address)
		d := domainOf(address)
		token, isReverse := strings.CutPrefix(strings.TrimSuffix(address, "@"+d), reverseAliasPrefix)
		return token, d == s.cfg.Domain && isReverse
	}
	var tokens []string
	for _, a := range list {
		if token, ok := tokenOf(a); ok && wellFormedToken(token) && !slices.Contains(tokens, token) && len(tokens) < maxMaskedParticipants {
			tokens = append(tokens, token)
		}
	}
	contacts := map[string]string{} // token → its contact's address
	if len(tokens) > 0 {
		found, err := s.db.RelayContact.Query().
			Where(relaycontact.TokenIn(tokens...), relaycontact.ConnectionID(connectionID)).
			Select(relaycontact.FieldToken, relaycontact.FieldContactAddress).All(ctx)
		if err != nil {
			return err
		}
		for _, c := range found {
			contacts[c.Token] = c.ContactAddress
		}
	}
	var out []*gomail.Address
	changed := false
	for _, a := range list {
		token, isReverse := tokenOf(a)
		if !isReverse {
			out = append(out, a)
			continue
		}
		changed = true
		if contact, ok := contacts[token]; ok {
			out = append(out, &gomail.Address{Address: contact})
		}
	}
	switch {
	case len(out) == 0:
		h.Del("Cc")
	case changed:
		h.SetAddressList("Cc", out)
	}
	return nil
}

// contact returns the reverse alias of (connectionID, address), creating it on first use and
// stamping last_used_at otherwise. A concurrent creation of the same pair, or a token
// collision, is resolved by looking again. A creation first makes room under the contact
// limit (makeRoomForContacts); keep are the reverse aliases of the same message, which stay.
func (s *Server) contact(ctx context.Context, connectionID, address string, now time.Time, keep []string) (*ent.RelayContact, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.db.RelayContact.Query().
			Where(relaycontact.ConnectionID(connectionID), relaycontact.ContactAddress(address)).
			Only(ctx)
		if err == nil {
			return c, s.db.RelayContact.UpdateOneID(c.ID).SetLastUsedAt(now).Exec(ctx)
		}
		if !store.NotFound(err) {
			return nil, err
		}
		if err := s.makeRoomForContacts(ctx, connectionID, keep, 1); err != nil {
			return nil, fmt.Errorf("contact limit: %w", err)
		}
		c, err = s.db.RelayContact.Create().
			SetConnectionID(connectionID).
			SetContactAddress(address).
			SetToken(ids.RandomLower(20)).
			SetCreatedAt(now).
			SetLastUsedAt(now).
			Save(ctx)
		if err == nil || !store.Conflict(err) || attempt == 2 {
			return c, err
		}
	}
}

// makeRoomForContacts deletes reverse aliases of connectionID until more fit within
// Config.ContactLimit: first the least recently used (last_used_at) of those the person never
// replied to, then, only when none is left, the least recently used of the others; never one
// of keep. A sender can only add contacts the person never answered, so a flood of forged
// senders replaces its own contacts and the oldest unanswered ones; a correspondent the person
// replied to goes only when every other contact is one too, and then at most the 51 of one
// forward, whatever the flood. Every new sender still gets a reverse alias and its mail is
// still forwarded. The count and the choice are index scans of the connection's rows (at most
// the limit of them) on (connection_id, last_used_at); the count may read the unique
// (connection_id, contact_address) index instead. Concurrent creations may pass the limit by
// the number of them for a moment: the next creation deletes down to it again. A connection
// far past it (rows made before the limit existed) loses maxContactsReplaced per creation.
func (s *Server) makeRoomForContacts(ctx context.Context, connectionID string, keep []string, more int) error {
	n, err := s.db.RelayContact.Query().Where(relaycontact.ConnectionID(connectionID)).Count(ctx)
	if err != nil {
		return err
	}
	excess := min(n-s.cfg.ContactLimit+more, maxContactsReplaced)
	if excess <= 0 {
		return nil
	}
	var victims []string
	for _, replied := range []predicate.RelayContact{relaycontact.RepliedAtIsNil(), relaycontact.RepliedAtNotNil()} {
		ids, err := s.db.RelayContact.Query().
			Where(relaycontact.ConnectionID(connectionID), replied, relaycontact.IDNotIn(keep...)).
			Order(relaycontact.ByLastUsedAt(), relaycontact.ByID()).
			Limit(excess - len(victims)).
			IDs(ctx)
		if err != nil {
			return err
		}
		if victims = append(victims, ids...); len(victims) == excess {
			break
		}
	}
	if len(victims) == 0 {
		return nil
	}
	deleted, err := s.db.RelayContact.Delete().Where(relaycontact.IDIn(victims...)).Exec(ctx)
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("relay: contact limit", "connection", connectionID, "replaced", deleted)
	return nil
}

// maxContactsReplaced bounds the reverse aliases one creation deletes (one statement, as a
// batch of PurgeContacts).
const maxContactsReplaced = 1000

// ContactRetention is how long a reverse alias lives unused (neither forwarded through nor
// replied to): each holds a third party's address tied to a person's connection, and kept for
// good they would pile up for every sender that ever wrote. A reply to a thread older than this
// bounces as to an unknown reverse alias; the contact's next mail makes a new one.
const ContactRetention = 365 * 24 * time.Hour

// PurgeContacts deletes the reverse aliases of db unused since before cutoff, 1,000 per
// statement (store.Purge), and returns how many. The worker's hourly housekeeping runs it.
func PurgeContacts(ctx context.Context, db *store.DB, cutoff time.Time) (int, error) {
	return store.Purge(ctx, "unused reverse aliases", func(ctx context.Context, limit int) ([]string, error) {
		return db.RelayContact.Query().Where(relaycontact.LastUsedAtLT(cutoff)).Limit(limit).IDs(ctx)
	}, func(ctx context.Context, ids []string) (int, error) {
		// One used meanwhile (its stamp moved) stays.
		return db.RelayContact.Delete().Where(relaycontact.IDIn(ids...), relaycontact.LastUsedAtLT(cutoff)).Exec(ctx)
	})
}

// originalSender is whom a reply should reach: the first Reply-To address, else the first
// From address, else the envelope sender; nil when there is none (a bounce without From).
func originalSender(h gomail.Header, envelopeFrom string) *gomail.Address {
	for _, k := range []string{"Reply-To", "From"} {
		if list, err := h.AddressList(k); err == nil && len(list) > 0 && strings.Contains(list[0].Address, "@") {
			if k == "Reply-To" {
				// Keep the From's name: the reply address is where, the name is who.
				if from, err := h.AddressList("From"); err == nil && len(from) > 0 && list[0].Name == "" {
					return &gomail.Address{Name: from[0].Name, Address: list[0].Address}
				}
			}
			return list[0]
		}
	}
	if envelopeFrom != "" {
		return &gomail.Address{Address: envelopeFrom}
	}
	return nil
}

// maxNameRunes bounds the sender's own name in a forward's From name.
const maxNameRunes = 64

// displayName is the From name of a forward: "Name (name at example.com) via LoginSign", or
// "name at example.com via LoginSign" without a name. With repliesTo, the address a reply goes
// to when it is not a's, that address is named too: "Name (name at example.com, replies go to
// other at example.org) via LoginSign", or "name at example.com (replies go to other at
// example.org) via LoginSign". When unverified, "[unverified] " goes first, where no name can
// push it out of sight. Addresses are spelled with " at " so that mail clients do not take the
// display name for an address. The sender's name and the addresses are cleaned so they cannot
// hide the rest: control and format characters (zero-width spaces, bidirectional overrides
// that would show an address reversed) are removed, every run of spaces of any kind becomes
// one space, and the name is cut to maxNameRunes characters. The sender's name cannot imitate
// this form either (senderName), nor carry an encoded word that a mail program would decode.
func displayName(a *gomail.Address, repliesTo string, unverified bool) string {
	name := senderName(a.Name)
	if r := []rune(name); len(r) > maxNameRunes {
		name = strings.TrimSpace(string(r[:maxNameRunes]))
	}
	if strings.EqualFold(name, a.Address) {
		name = ""
	}
	addr := spelled(a.Address)
	var out string
	switch {
	case repliesTo != "" && name != "":
		out = name + " (" + addr + ", replies go to " + spelled(repliesTo) + ") via LoginSign"
	case repliesTo != "":
		out = addr + " (replies go to " + spelled(repliesTo) + ") via LoginSign"
	case name != "":
		out = name + " (" + addr + ") via LoginSign"
	default:
		out = addr + " via LoginSign"
	}
	if unverified {
		out = "[unverified] " + out
	}
	// The name is written as a quoted string of plain ASCII, and mail programs (Thunderbird,
	// Gmail) decode an RFC 2047 encoded word even there: "=?utf-8?q?PayPal_=28…=29_via_LoginSign?="
	// in the sender's name or local part would be read as a name in the relay's form. Split,
	// "=?" starts no encoded word.
	return strings.ReplaceAll(out, "=?", "= ?")
}

// viaLoginSign matches the relay's own mark in a From name, in any case and spacing.
var viaLoginSign = regexp.MustCompile(`(?i)\bvia\s*loginsign\b`)

// senderName is a sender's name as displayName shows it: cleaned (cleanText), without any part
// in parentheses (ASCII, fullwidth, small, superscript or subscript ones; an unclosed one runs
// to the end) and without "via LoginSign" in any case. The From address of a forward is the
// reverse alias, so the person tells who wrote only by the name the relay composes; those are
// the relay's own marks, and a name written as "PayPal (service at paypal.com) via LoginSign"
// would otherwise make the forward read as PayPal's mail, with the relay's real
// "(address) via LoginSign" after it, where mail clients cut it off in their message lists.
func senderName(name string) string {
	var b strings.Builder
	depth := 0
	for _, r := range cleanText(name) {
		switch r {
		case '(', '\uff08', '\ufe59', '\u207d', '\u208d':
			depth++
		case ')', '\uff09', '\ufe5a', '\u207e', '\u208e':
			depth = max(depth-1, 0)
		default:
			if depth == 0 {
				b.WriteRune(r)
			}
		}
	}
	// Removing one mark may join the text around it into another ("via via LoginSign
	// LoginSign"): remove until none is left.
	name = cleanText(b.String())
	for {
		next := cleanText(viaLoginSign.ReplaceAllString(name, " "))
		if next == name {
			return name
		}
		name = next
	}
}

// spelled is address as a display name shows it: cleaned (cleanText), the "@" before its
// domain (the last one, domainOf) written " at ". A local part that holds "@" itself (quoted,
// as in "support@paypal.com"@evil.test) is shown in quotes with its own "@" written " at "
// too: no "@" is left in the name for a mail client to take for an address, and the domain
// the mail was authenticated for is the one that ends the spelling.
func spelled(address string) string {
	address = cleanText(address)
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return address
	}
	local, domain := address[:i], address[i+1:]
	if strings.Contains(local, "@") {
		local = `"` + strings.ReplaceAll(local, "@", " at ") + `"`
	}
	return local + " at " + domain
}

// cleanText removes control and format characters from s and makes every run of spaces of any
// kind one space.
func cleanText(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)), " ")
}

// received is the trace line of this hop (RFC 5321 section 4.4).
func (s *Server) received(ss *session, rcpt string, now time.Time) string {
	helo := strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, ss.helo)
	return fmt.Sprintf("from %s ([%s]) by %s (LoginSign relay) with ESMTP for <%s>; %s",
		helo, ss.remote, s.cfg.Hostname, rcpt, now.Format(time.RFC1123Z))
}

// splitMessage parses the top-level header of raw and returns it with the untouched body
// bytes that follow it. A header past maxHeaderFields or maxHeaderBytes is not parsed: the
// error is errHeaderTooLarge.
func splitMessage(raw []byte) (textproto.Header, []byte, error) {
	if headerTooLarge(raw) {
		return textproto.Header{}, nil, errHeaderTooLarge
	}
	rd := bytes.NewReader(raw)
	br := bufio.NewReader(rd)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return textproto.Header{}, nil, err
	}
	consumed := len(raw) - rd.Len() - br.Buffered()
	return h, raw[consumed:], nil
}

// assemble writes the header followed by the untouched body.
func assemble(h textproto.Header, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(body) + 4096)
	if err := textproto.WriteHeader(&buf, h); err != nil {
		return nil, fmt.Errorf("writing header: %w", err)
	}
	buf.Write(body)
	return buf.Bytes(), nil
}

// unfold joins a folded header value onto one line.
func unfold(v string) string {
	return strings.Join(strings.Fields(v), " ")
}
