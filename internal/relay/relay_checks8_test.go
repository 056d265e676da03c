package relay_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/connections"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// rawSession is an SMTP session written byte for byte, for what net/smtp and go-smtp's
// client would not send (bare carriage returns, commands out of order).
type rawSession struct {
	t    *testing.T
	conn net.Conn
	r    *textproto.Reader
}

// rawDial connects to addr from the loopback address local and reads the greeting; greeting
// is "" when none came within wait.
func rawDial(t *testing.T, local, addr string, wait time.Duration) (s *rawSession, greeting string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s = &rawSession{t: t, conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
	conn.SetReadDeadline(time.Now().Add(wait))
	line, err := s.r.ReadLine()
	if err != nil {
		return s, ""
	}
	return s, line
}

// cmd writes line (CRLF added) and returns the reply's code and text, e.g. "502 5.5.1 Please
// introduce yourself first.", its lines joined by a space.
func (s *rawSession) cmd(line string) string {
	s.t.Helper()
	return s.write([]byte(line + "\r\n"))
}

// write sends b as it is and returns the reply that follows.
func (s *rawSession) write(b []byte) string {
	s.t.Helper()
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatal(err)
	}
	s.conn.SetReadDeadline(time.Now().Add(time.Minute))
	code, msg, err := s.r.ReadResponse(0)
	if err != nil && code == 0 {
		return fmt.Sprintf("no reply: %v", err)
	}
	return fmt.Sprintf("%d %s", code, strings.ReplaceAll(msg, "\n", " "))
}

// TestAMessageWithAHundredThousandHeaderFieldsIsRefused: the header of a message is bounded
// like its size and recipients. Reading and rewriting a forward's header costs time in the
// square of its field count (every ARC-* field the relay removes, and every Sender,
// Return-Path or DKIM-Signature field, is deleted from a list that is shifted each time), so
// without a bound a 2 MB message of "ARC-Seal: x" lines from anyone who knows one alias holds
// a CPU for seconds, and one of the 25 MiB allowed for tens of minutes, while its session
// holds one of the 50 the relay serves. A header that large is no mail: it gets a 5xx, and
// nothing is forwarded.
func TestAMessageWithAHundredThousandHeaderFieldsIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		var b bytes.Buffer
		b.WriteString("From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n")
		for range 100_000 {
			b.WriteString("ARC-Seal: x\r\n")
		}
		b.WriteString("\r\nhi\r\n")
		start := time.Now()
		err := send(f.addr, original, []string{alias}, b.Bytes())
		took := time.Since(start).Round(time.Millisecond)
		if got := smtpReply(err); !strings.HasPrefix(got, "5") {
			t.Errorf("a message of %d bytes whose header holds 100,003 fields: %s after %v, want a 5xx", b.Len(), got, took)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages forwarded, want none", n)
		}
	})
}

// TestOnePeerCannotTakeEverySessionOfTheRelay: the relay serves at most MaxConnections (50)
// sessions at once, and connections past them wait, unanswered, for one to end. Without a
// bound per peer, one host that opens 50 sessions and keeps them idle (a session lives as long
// as a command comes within two minutes) stops the relay taking mail for every person from
// every other sender. A connection of another peer must still be greeted.
func TestOnePeerCannotTakeEverySessionOfTheRelay(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{}) // MaxConnections: the default 50
		greeted := 0
		for range 50 {
			if _, line := rawDial(t, "127.0.0.1", f.addr, time.Second); strings.HasPrefix(line, "220") {
				greeted++
			}
		}
		_, line := rawDial(t, "127.0.0.2", f.addr, 5*time.Second)
		if !strings.HasPrefix(line, "220") {
			t.Errorf("another peer's connection, while 127.0.0.1 holds %d idle sessions: greeting %q within 5s, want 220", greeted, line)
		}
	})
}

// TestNoBareCarriageReturnReachesTheNextHop: SMTP smuggling (SEC Consult, 2023). The relay
// ends DATA only at <CR><LF>.<CR><LF> and forwards the rest as it came; go-smtp's client
// turns a bare <LF> into <CR><LF> (and dot-stuffs the line after it) but passes a bare <CR> on.
// A next hop that reads a bare <CR> as a line end (SEC Consult reported Cisco Secure Email's
// default CR/LF handling doing so) then takes "<CR>.<CR><LF>" for the end of the forward, and the
// lines after it for commands of the relay's own authenticated session: a MAIL FROM and
// RCPT TO of the sender's choice, sent by LoginSign to anyone. Whatever the relay answers,
// what reaches the next hop carries no bare <CR>.
func TestNoBareCarriageReturnReachesTheNextHop(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		s, greeting := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		if !strings.HasPrefix(greeting, "220") {
			t.Fatalf("greeting %q", greeting)
		}
		for _, c := range []string{"EHLO client.example", "MAIL FROM:<" + original + ">", "RCPT TO:<" + alias + ">", "DATA"} {
			if got := s.cmd(c); got[0] != '2' && got[0] != '3' {
				t.Fatalf("%s: %s", c, got)
			}
		}
		smuggled := "From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n" +
			"\r.\r\nMAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@elsewhere.test>\r\nDATA\r\n" +
			"From: ceo@bank.test\r\nSubject: wire the money\r\n\r\nnow\r\n\r.\r\n" +
			"\r\n.\r\n"
		reply := s.write([]byte(smuggled))
		for _, e := range f.out.Messages() {
			for i, c := range e.Data {
				if c == '\r' && (i+1 == len(e.Data) || e.Data[i+1] != '\n') {
					t.Errorf("DATA answered %s; the next hop got a bare CR at byte %d: %q", reply, i,
						e.Data[max(0, i-10):min(len(e.Data), i+40)])
					break
				}
			}
		}
	})
}

// TestAQuotedAtSignInTheFromDoesNotEscapeTheDomainsDMARCPolicy: the relay refuses a forward
// whose From domain publishes p=reject and which fails DMARC (550 5.7.26). The domain is what
// follows the last "@" of the address: in "security@x"@bank.test the quoted local part holds
// an "@", and reading the domain after the first one ("x@bank.test") finds no DMARC record
// and forwards bank.test's spoofed mail, marked only "[unverified]", with "x@bank.test" in its
// From name.
func TestAQuotedAtSignInTheFromDoesNotEscapeTheDomainsDMARCPolicy(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("_dmarc.bank.test", "v=DMARC1; p=reject")
		msg := func(from string) []byte {
			return []byte("From: " + from + "\r\nTo: " + alias + "\r\nSubject: Your account\r\n\r\nPlease sign in.\r\n")
		}
		if got := transaction(t, f.addr, "bounce@evil.test", alias, msg("Bank <security@bank.test>")); got != "DATA 550 5.7.26 Unauthenticated mail from bank.test is refused by that domain's DMARC policy" {
			t.Fatalf("plain spoofed From of bank.test: %s", got)
		}
		got := transaction(t, f.addr, "bounce@evil.test", alias, msg(`Bank <"security@x"@bank.test>`))
		if !strings.HasPrefix(got, "DATA 550 5.7.26") {
			t.Errorf("spoofed From of bank.test with a quoted \"@\" in its local part: %s, want DATA 550 5.7.26", got)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d forwards of bank.test's spoofed mail, want none:\n%s", n, f.out.Messages()[0].Header())
		}
	})
}

// TestARecipientDomainThatOnlyUnicodeFoldingMakesTheRelayDomainIsRefused: RCPT TO is
// accepted for the relay domain in any ASCII case only. strings.EqualFold also folds
// U+017F LATIN SMALL LETTER LONG S to "s" and U+212A KELVIN SIGN to "k", so
// x9s8d7@relay.te\u017ft, a domain no DNS name can be and sent without SMTPUTF8, was taken
// as the alias (go-smtp passes it on as it is).
func TestARecipientDomainThatOnlyUnicodeFoldingMakesTheRelayDomainIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		s.cmd("EHLO client.example")
		s.cmd("MAIL FROM:<" + original + ">")
		if got := s.cmd("RCPT TO:<x9s8d7@relay.te\u017ft>"); !strings.HasPrefix(got, "550 5.7.1") {
			t.Errorf("RCPT TO:<x9s8d7@relay.te\u017ft>: %s, want 550 5.7.1 (not the relay domain)", got)
		}
	})
}

// TestCommandsBeforeHeloChangeNothing: before HELO/EHLO a peer gets 502 for MAIL and AUTH,
// and RCPT and DATA without a transaction get 502 too; VRFY names no mailbox (the same 252
// for an alias and an unknown address); no message is sent.
func TestCommandsBeforeHeloChangeNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		for _, tc := range []struct{ cmd, want string }{
			{"MAIL FROM:<" + original + ">", "502 5.5.1 Please introduce yourself first."},
			{"RCPT TO:<" + alias + ">", "502 5.5.1 Missing MAIL FROM command."},
			{"DATA", "502 5.5.1 Missing RCPT TO command."},
			{"AUTH PLAIN AGZvbwBiYXI=", "502 5.5.1 Please introduce yourself first."},
			{"EXPN " + alias, "502 5.5.1 EXPN command not implemented"},
			{"VRFY " + alias, "252 2.5.0 Cannot VRFY user, but will accept message"},
			{"VRFY nobody@" + domain, "252 2.5.0 Cannot VRFY user, but will accept message"},
		} {
			if got := s.cmd(tc.cmd); got != tc.want {
				t.Errorf("%s before HELO: %s, want %s", tc.cmd, got, tc.want)
			}
		}
		if got := s.cmd("EHLO client.example"); !strings.HasPrefix(got, "250") {
			t.Fatalf("EHLO after them: %s", got)
		}
		if got := s.cmd("AUTH PLAIN AGZvbwBiYXI="); !strings.HasPrefix(got, "5") {
			t.Errorf("AUTH without TLS: %s, want a 5xx (the relay takes no logins)", got)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages sent, want none", n)
		}
	})
}

// TestAnOverlongLineIsRefusedAndNothingIsSent: a command line or a DATA line longer than
// go-smtp's 2,000 octets gets a 5xx and the session ends; nothing is forwarded.
func TestAnOverlongLineIsRefusedAndNothingIsSent(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		s.cmd("EHLO client.example")
		if got := s.cmd("RCPT TO:<" + strings.Repeat("a", 3000) + "@" + domain + ">"); got != "500 5.4.0 Too long line, closing connection" {
			t.Errorf("a 3,000-octet RCPT: %s", got)
		}

		s, _ = rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		for _, c := range []string{"EHLO client.example", "MAIL FROM:<" + original + ">", "RCPT TO:<" + alias + ">", "DATA"} {
			s.cmd(c)
		}
		got := s.write([]byte("From: " + original + "\r\nSubject: hi\r\n\r\n" + strings.Repeat("b", 3000) + "\r\n.\r\n"))
		if !strings.HasPrefix(got, "5") {
			t.Errorf("a 3,000-octet line in DATA: %s, want a 5xx", got)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages forwarded, want none", n)
		}
	})
}

// TestNoRecipientSpellingMakesTheRelayAnOpenRelay: source routes, the percent hack, an
// address inside the local part, an IP literal, a trailing dot, "+" tags and a reverse alias
// with a domain tacked on are all refused at RCPT; a source route ending on an alias is that
// alias (go-smtp drops the route, RFC 5321 section 3.6.1), delivered to its person only.
func TestNoRecipientSpellingMakesTheRelayAnOpenRelay(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		s.cmd("EHLO client.example")
		s.cmd("MAIL FROM:<" + original + ">")
		for _, tc := range []struct{ rcpt, want string }{
			{"<@" + domain + ":victim@elsewhere.test>", "550 5.7.1"},
			{"<victim%elsewhere.test@" + domain + ">", "550 5.1.1"},
			{"<victim@elsewhere.test@" + domain + ">", "501 5.1.3"},
			{"<\"victim@elsewhere.test\"@" + domain + ">", "501 5.1.3"},
			{"<victim@[127.0.0.1]>", "550 5.7.1"},
			{"<x9s8d7@" + domain + ".>", "550 5.7.1"},
			{"<x9s8d7+tag@" + domain + ">", "550 5.1.1"},
			{"<x9s8d7@" + domain + "@elsewhere.test>", "501 5.1.3"},
			{"<r-" + reverseToken + "%elsewhere.test@" + domain + ">", "550 5.1.1"},
			{"<r-" + reverseToken + "+x@" + domain + ">", "550 5.1.1"},
			{"<r-" + reverseToken + "@" + domain + ".elsewhere.test>", "550 5.7.1"},
		} {
			if got := s.cmd("RCPT TO:" + tc.rcpt); !strings.HasPrefix(got, tc.want) {
				t.Errorf("RCPT TO:%s: %s, want %s", tc.rcpt, got, tc.want)
			}
		}
		if got := s.cmd("RCPT TO:<@elsewhere.test:" + alias + ">"); !strings.HasPrefix(got, "250") {
			t.Fatalf("RCPT TO a source route ending on the alias: %s", got)
		}
		s.cmd("DATA")
		if got := s.write([]byte("From: " + original + "\r\nSubject: hi\r\n\r\nhi\r\n.\r\n")); !strings.HasPrefix(got, "250") {
			t.Fatalf("DATA: %s", got)
		}
		if got := f.recipients(); len(got) != 1 || got[0] != person {
			t.Errorf("delivered to %v, want only %s", got, person)
		}
	})
}

// TestRelayWrittenHeadersCarryNoLineBreakOfTheSender: the fields the relay writes from what a
// sender chose (the From name, X-Original-From, the names in To and Cc, Received from the
// HELO name) carry no CR or LF, encoded or bare, so no field of the sender's choosing
// (a Bcc, a second From) appears in the forward.
func TestRelayWrittenHeadersCarryNoLineBreakOfTheSender(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := "From: =?utf-8?q?Acme=0D=0ABcc:_spy@evil.test=0D=0AFrom:_ceo@bank.test?= <" + original + ">\r\n" +
			"To: " + alias + "\r\n" +
			"Cc: =?utf-8?q?Ann=0D=0AReply-To:_spy@evil.test?= <ann@acme.test>\r\n" +
			"Subject: hi\r\n\r\nhi\r\n"
		if err := send(f.addr, original, []string{alias}, []byte(msg)); err != nil {
			t.Fatalf("send: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		h := parseHeader(t, e.Data)
		if h.Has("Bcc") || h.Header.Header.FieldsByKey("From").Len() != 1 || h.Header.Header.FieldsByKey("Reply-To").Len() != 1 {
			t.Errorf("the forward's header has a field the sender wrote into a name:\n%s", e.Header())
		}
		for _, k := range []string{"From", "Reply-To", "X-Original-From", "To", "Cc", "Received", "Authentication-Results"} {
			for _, v := range h.Header.Header.Values(k) {
				if strings.ContainsAny(v, "\r\n") {
					t.Errorf("%s = %q holds a line break", k, v)
				}
			}
		}
		for _, k := range []string{"From", "Cc"} {
			list, err := h.AddressList(k)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			for _, a := range list {
				if strings.ContainsAny(a.Name, "\r\n") {
					t.Errorf("%s name %q decodes to a line break", k, a.Name)
				}
			}
		}
	})
}

// TestAnEndedConnectionsAliasesTakeNoMail: connections.Delete is what the person removing
// the app, the person closing their account and the developer deleting the connection all
// run. After it the alias answers like an unknown one (550 5.1.1 at RCPT) and the reverse
// aliases of the connection take no reply: mail neither reaches the person nor leaves as them.
func TestAnEndedConnectionsAliasesTakeNoMail(t *testing.T) {
	t.Parallel()
	for _, why := range []struct {
		name string
		why  connections.Why
	}{{"removed by the person", connections.RemovedByPerson}, {"account closed", connections.AccountDeleted},
		{"deleted by the developer", connections.DeletedByDeveloper}} {
		t.Run(why.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				ctx := context.Background()
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
				if err := send(f.addr, original, []string{alias}, []byte("From: "+original+"\r\nSubject: before\r\n\r\nhi\r\n")); err != nil {
					t.Fatalf("forward before the ending: %v", err)
				}
				f.out.Next(t, 5*time.Second)

				endConnection(t, db, f.conn.ID, why.why)

				if got := transaction(t, f.addr, original, alias, []byte("From: "+original+"\r\nSubject: after\r\n\r\nhi\r\n")); got != "RCPT 550 5.1.1 No such mailbox" {
					t.Errorf("mail to the ended connection's alias: %s, want RCPT 550 5.1.1 No such mailbox", got)
				}
				if got := transaction(t, f.addr, person, reverseAlias(), replyMessage(person)); got != "DATA "+replyRefused {
					t.Errorf("the person's reply through the ended connection's reverse alias: %s, want DATA %s", got, replyRefused)
				}
				if n := f.out.Count(); n != 1 {
					t.Errorf("%d messages sent after the ending, want none (only the forward before it)", n-1)
				}
			})
		})
	}
}

// endConnection runs connections.Delete for conn in its own transaction, as the person
// removing the app does.
func endConnection(t *testing.T, db *store.DB, id string, why connections.Why) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := tx.AppConnection.Query().Where(appconnection.ID(id)).WithApplication().WithUser().OnlyX(ctx)
	if err := connections.Delete(ctx, tx, conn, why, time.Now()); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestATransactionOpenedBeforeTheAppWasRemovedDeliversNothingAfter: the relay decides at RCPT
// whether an alias takes mail and delivers at DATA with what it read then. A sender (the app,
// which holds every alias of its users) can open a session, have the alias accepted, and keep
// the transaction open with NOOPs for as long as it likes; once the person removed the app (or
// closed their LoginSign account), its DATA still reaches the person's real address, which
// was read at RCPT: a message with no From, Reply-To, To or Cc and the null sender needs no
// reverse alias, so nothing at DATA notices the connection is gone.
func TestATransactionOpenedBeforeTheAppWasRemovedDeliversNothingAfter(t *testing.T) {
	t.Parallel()
	for _, why := range []struct {
		name string
		why  connections.Why
	}{{"removed by the person", connections.RemovedByPerson}, {"account closed", connections.AccountDeleted}} {
		t.Run(why.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
				for _, c := range []string{"EHLO app.example", "MAIL FROM:<>", "RCPT TO:<" + alias + ">"} {
					if got := s.cmd(c); !strings.HasPrefix(got, "250") {
						t.Fatalf("%s: %s", c, got)
					}
				}
				endConnection(t, db, f.conn.ID, why.why)
				if got := s.cmd("NOOP"); !strings.HasPrefix(got, "250") {
					t.Fatalf("NOOP: %s", got)
				}
				s.cmd("DATA")
				got := s.write([]byte("Subject: we miss you, come back\r\n\r\nhi\r\n.\r\n"))
				if got[0] == '2' {
					t.Errorf("DATA after the connection ended: %s, want it refused", got)
				}
				if to := f.recipients(); len(to) != 0 {
					t.Errorf("forwarded to %v after the person ended the connection, want nobody", to)
				}
			})
		})
	}
}

// TestASendersNameCannotImitateTheRelaysOwnFromName: a forward's From address is the reverse
// alias, so the person learns who wrote only from the From name the relay composes:
// "<name> (<address, @ written " at ">) via LoginSign". The sender's name is kept as it is
// (cleaned, cut to 64 characters), so a name written in that very form,
// "PayPal (service at paypal.com) via LoginSign", makes the forward read as PayPal's mail
// followed by a second, real "(me at evil.test) via LoginSign" that mail clients cut off in
// their message lists. The relay's markers are the relay's: the sender's name may not carry
// "via LoginSign" nor an address group of its own.
func TestASendersNameCannotImitateTheRelaysOwnFromName(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("evil.test", "v=spf1 ip4:127.0.0.0/8 -all") // the attacker's own domain: verified
		msg := []byte("From: \"PayPal (service at paypal.com) via LoginSign\" <me@evil.test>\r\nTo: " + alias +
			"\r\nSubject: Your account is limited\r\n\r\nPlease sign in.\r\n")
		if err := send(f.addr, "bounce@evil.test", []string{alias}, msg); err != nil {
			t.Fatalf("send: %s", smtpReply(err))
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		from, err := h.AddressList("From")
		if err != nil || len(from) != 1 {
			t.Fatalf("From: %v %v", from, err)
		}
		if name := from[0].Name; strings.Count(name, "via LoginSign") != 1 || strings.Contains(name, "(service at paypal.com)") {
			t.Errorf("the forward's From name = %q: the sender's name imitates the relay's \"(address) via LoginSign\"", name)
		}
	})
}

// TestAReplayedDKIMSignatureDoesNotTellWhoseAReverseAliasIs: a reply passes DMARC by an aligned
// DKIM signature alone, and a signature stays valid for the message it signed wherever it is
// sent again. An app's support inbox holds DKIM-signed mail its customers sent from their real
// addresses, to support@acme.test; the app knows a reverse alias of the person behind one of
// its aliases (its own, from a quoted reply). Sending such a signed message again, byte for
// byte, to that reverse alias answers 250 and mails it out from the alias when its From is
// the alias owner's address, and 550 5.7.26 when it is not: a test, for any address the app
// has signed mail from, of whether it is the real address behind the alias. Both replays
// must be answered alike, and neither may leave as the person.
func TestAReplayedDKIMSignatureDoesNotTellWhoseAReverseAliasIs(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		key := newDKIMKey(t)
		f.zone.setTXT("sel._domainkey.example.com", key.record)
		f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all") // the app's host is not example.com's
		// Mail the support inbox got straight from two customers of example.com, signed there.
		signed := func(from string) []byte {
			return key.sign(t, []byte("From: <"+from+">\r\nTo: <"+original+">\r\nSubject: Cannot sign in\r\n"+
				"Date: Mon, 30 Nov 2026 09:00:00 +0000\r\nMessage-ID: <c1@example.com>\r\n\r\nHelp, please.\r\n"), "example.com")
		}
		answers := map[string]string{}
		for _, from := range []string{person, "pat@example.com"} {
			answers[from] = transaction(t, f.addr, "replay@acme.test", reverseAlias(), signed(from))
		}
		if answers[person] != answers["pat@example.com"] || answers[person] != "DATA "+replyRefused {
			t.Errorf("replayed signed mail of the alias owner's address: %s; of another address of the domain: %s; want both DATA %s",
				answers[person], answers["pat@example.com"], replyRefused)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d replayed messages left the relay as the person (From %s), want none", n, alias)
		}
	})
}

// TestAForwardLoopBetweenTwoAliasesEnds: two accounts whose addresses are each other's aliases
// (an address on the relay domain is an address like any other to sign up with) make every
// forward of one a message to the other. Fed back to the relay as the next hop delivers it,
// the loop ends at the relay's hop limit with 554 5.4.6, after at most three forwards.
func TestAForwardLoopBetweenTwoAliasesEnds(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		aliasA, aliasB := "aaaa1111@"+domain, "bbbb2222@"+domain
		f.newConnection(t, f.newUser(t, aliasB), aliasA) // A's address is B's alias
		f.newConnection(t, f.newUser(t, aliasA), aliasB) // and B's is A's
		from, to := original, aliasA
		msg := []byte("From: " + original + "\r\nTo: " + aliasA + "\r\nSubject: ping\r\n\r\nping\r\n")
		for hop := 1; ; hop++ {
			err := send(f.addr, from, []string{to}, msg)
			if err != nil {
				if got := smtpCode(err); got != "554 5.4.6" || hop > 4 {
					t.Errorf("hop %d: %s, want the loop refused with 554 5.4.6 by the fourth", hop, smtpReply(err))
				}
				break
			}
			if hop > 4 {
				t.Fatalf("the relay forwarded the loop %d times", hop)
			}
			e := f.out.Next(t, 5*time.Second)
			from, to, msg = e.From, e.To[0], e.Data
		}
		if n := f.out.Count(); n > 3 {
			t.Errorf("%d forwards of the loop, want at most three", n)
		}
	})
}
