package relay_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"loginsign/ent/relaycontact"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// reverseToken is the reverse alias the reply tests write to: it stands for the contact
// original of the fixture's connection.
const reverseToken = "tok123"

func reverseAlias() string { return "r-" + reverseToken + "@" + domain }

// replyMessage is a reply from "from" (a From header value) to the reverse alias.
func replyMessage(from string) []byte {
	return []byte("From: " + from + "\r\n" +
		"To: " + reverseAlias() + "\r\n" +
		"Subject: Re: Your invoice\r\n" +
		"Message-ID: <reply-1@mail.example.com>\r\n" +
		"\r\n" +
		"Thanks, that helps.\r\n")
}

// dkimKey is an Ed25519 DKIM key (RFC 8463) and its TXT record.
type dkimKey struct {
	private ed25519.PrivateKey
	record  string
}

func newDKIMKey(tb testing.TB) dkimKey {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return dkimKey{private: priv, record: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
}

// sign returns msg with a DKIM-Signature of d=signingDomain, s=sel on top.
func (k dkimKey) sign(tb testing.TB, msg []byte, signingDomain string) []byte {
	tb.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain: signingDomain, Selector: "sel", Signer: k.private,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func TestReplyMustPassAlignedSPFOrDKIM(t *testing.T) {
	t.Parallel()
	key := newDKIMKey(t)
	for _, tc := range []struct {
		name     string
		zone     func(z *zone) // changes to the fixture's zone, which lets 127/8 send for example.com and example.net
		mailFrom string
		msg      func(t *testing.T) []byte
		want     string // "" for delivered, else how DATA's reply starts
	}{
		{
			name:     "SPF pass for the person's domain",
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage("Pat <" + person + ">") },
		},
		{
			name:     "forged envelope sender: SPF fails",
			zone:     func(z *zone) { z.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all") },
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage(person) },
			want:     replyRefused,
		},
		{
			name:     "forged envelope sender: SPF softfail",
			zone:     func(z *zone) { z.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 ~all") },
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage(person) },
			want:     replyRefused,
		},
		{
			name:     "forged envelope sender: the domain publishes no SPF",
			zone:     func(z *zone) { z.setTXT("example.com") },
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage(person) },
			want:     replyRefused,
		},
		{
			name: "DKIM signature of the person's domain, SPF failing",
			zone: func(z *zone) {
				z.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
				z.setTXT("sel._domainkey.example.com", key.record)
			},
			mailFrom: person,
			msg:      func(t *testing.T) []byte { return key.sign(t, replyMessage(person), "example.com") },
		},
		{
			name: "DKIM signature of a parent domain (relaxed alignment)",
			zone: func(z *zone) {
				z.setTXT("example.com", "v=spf1 -all")
				z.setTXT("sel._domainkey.example.com", key.record)
			},
			mailFrom: "me@mail.example.com",
			msg:      func(t *testing.T) []byte { return key.sign(t, replyMessage("me@mail.example.com"), "example.com") },
		},
		{
			name: "valid DKIM signature of another domain",
			zone: func(z *zone) {
				z.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
				z.setTXT("sel._domainkey.evil.test", key.record)
			},
			mailFrom: person,
			msg:      func(t *testing.T) []byte { return key.sign(t, replyMessage(person), "evil.test") },
			want:     replyRefused,
		},
		{
			name: "DKIM signature broken by a changed body",
			zone: func(z *zone) {
				z.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
				z.setTXT("sel._domainkey.example.com", key.record)
			},
			mailFrom: person,
			msg: func(t *testing.T) []byte {
				return bytes.Replace(key.sign(t, replyMessage(person), "example.com"), []byte("that helps"), []byte("send money"), 1)
			},
			want: replyRefused,
		},
		{
			name:     "SPF pass for the envelope, From of another domain of the person (misaligned)",
			zone:     func(z *zone) { z.setTXT("example.net", "v=spf1 -all") },
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage("alt@example.net") },
			want:     replyRefused,
		},
		{
			name:     "SPF pass for a subdomain envelope (relaxed alignment)",
			zone:     func(z *zone) { z.setTXT("mail.example.com", "v=spf1 ip4:127.0.0.1 -all") },
			mailFrom: "me@mail.example.com",
			msg:      func(*testing.T) []byte { return replyMessage(person) },
		},
		{
			name: "SPF pass for a subdomain envelope, DMARC asks for strict alignment",
			zone: func(z *zone) {
				z.setTXT("mail.example.com", "v=spf1 ip4:127.0.0.1 -all")
				z.setTXT("_dmarc.example.com", "v=DMARC1; p=none; aspf=s")
			},
			mailFrom: "me@mail.example.com",
			msg:      func(*testing.T) []byte { return replyMessage(person) },
			want:     replyRefused,
		},
		{
			name:     "From is not the person, SPF passing",
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage("someone@example.com") },
			want:     replyRefused,
		},
		{
			name:     "From names two addresses",
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage(person + ", someone@example.com") },
			want:     replyRefused,
		},
		{
			name:     "two From fields",
			mailFrom: person,
			msg: func(*testing.T) []byte {
				return bytes.Replace(replyMessage(person), []byte("\r\nTo:"), []byte("\r\nFrom: someone@example.com\r\nTo:"), 1)
			},
			want: replyRefused,
		},
		{
			name:     "DNS failing temporarily",
			zone:     func(z *zone) { z.breakDomain("example.com") },
			mailFrom: person,
			msg:      func(*testing.T) []byte { return replyMessage(person) },
			want:     "451 4.7.26",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				ctx := context.Background()
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
				for _, alt := range []string{"alt@example.net", "me@mail.example.com"} {
					f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail(alt).SetVerifiedAt(time.Now()).ExecX(ctx)
				}
				if tc.zone != nil {
					tc.zone(f.zone)
				}

				err := send(f.addr, tc.mailFrom, []string{reverseAlias()}, tc.msg(t))
				if tc.want == "" {
					if err != nil {
						t.Fatalf("reply refused: %v", err)
					}
					e := f.out.Next(t, 5*time.Second)
					if e.From != alias || strings.Join(e.To, ",") != original {
						t.Errorf("sent %s -> %v, want %s -> %s", e.From, e.To, alias, original)
					}
					return
				}
				if got := smtpReply(err); !strings.HasPrefix(got, tc.want) {
					t.Errorf("reply: %s, want %s", got, tc.want)
				}
				if n := f.out.Count(); n != 0 {
					t.Errorf("%d messages sent, want none", n)
				}
			})
		})
	}
}

// TestReverseAliasAnswersStrangersAlike: the developer of an app learns a reverse alias from
// the quote in the person's first reply. From a peer that passes neither SPF nor DKIM for the
// person's domains, no probe of it tells whether a guessed address is the person's (as
// envelope sender or in From), nor whether the person muted the app, stopped its forwarding,
// blocked it or deleted the connection: every probe is accepted at RCPT and refused at DATA
// with one same reply, as for a reverse alias that never existed. A stranger who passes DMARC
// for their own address gets that reply too. The person, authenticated, still reaches the
// contact while the connection is muted.
func TestReverseAliasAnswersStrangersAlike(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("alt@example.net").SetVerifiedAt(time.Now()).ExecX(ctx)
		notThisPeer := func() {
			f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
			f.zone.setTXT("example.net", "v=spf1 ip4:192.0.2.0/24 -all")
		}
		notThisPeer()
		want := "DATA " + replyRefused
		probe := func(name, rcpt, mailFrom, from string) {
			t.Helper()
			msg := []byte("From: " + from + "\r\nTo: " + rcpt + "\r\nSubject: hi\r\n\r\nhi\r\n")
			if got := transaction(t, f.addr, mailFrom, rcpt, msg); got != want {
				t.Errorf("%s: %s, want %s", name, got, want)
			}
		}
		for _, tc := range []struct{ name, mailFrom, from string }{
			{"the person's address as envelope sender and From", person, person},
			{"a wrong guess as envelope sender and From", "pat@example.com", "pat@example.com"},
			{"a verified alternative as envelope sender and From", "alt@example.net", "alt@example.net"},
			{"the person's envelope, From a stranger of the same domain", person, "nobody@example.net"},
			{"the person's envelope, From a verified alternative", person, "alt@example.net"},
			{"the person's envelope, From naming two addresses", person, person + ", pat@example.com"},
			{"a stranger passing DMARC for their own address", "dev@acme.test", "dev@acme.test"},
		} {
			probe(tc.name, reverseAlias(), tc.mailFrom, tc.from)
		}
		probe("an unknown reverse alias", "r-nosuchtoken@"+domain, person, person)

		for _, state := range []struct {
			name string
			set  func()
		}{
			{"muted", func() { f.db.AppConnection.UpdateOne(f.conn).SetEmailMuted(true).ExecX(ctx) }},
			{"not forwarding", func() { f.db.AppConnection.UpdateOne(f.conn).SetEmailMuted(false).SetIsForwarding(false).ExecX(ctx) }},
			{"blocked", func() { f.db.AppConnection.UpdateOne(f.conn).SetIsForwarding(true).SetBlocked(true).ExecX(ctx) }},
			{"deleted", func() { f.db.AppConnection.DeleteOne(f.conn).ExecX(ctx) }},
		} {
			state.set()
			probe(state.name+", the person's address", reverseAlias(), person, person)
			probe(state.name+", a wrong guess", reverseAlias(), "pat@example.com", "pat@example.com")
			if state.name == "muted" {
				f.zone.setTXT("example.com", "v=spf1 ip4:127.0.0.0/8 -all")
				if got := transaction(t, f.addr, person, reverseAlias(), replyMessage(person)); got != "DATA 250" {
					t.Errorf("the person's authenticated reply while muted: %s, want DATA 250", got)
				}
				notThisPeer()
			}
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d messages sent, want only the person's own reply", n)
		}
	})
}

// transaction runs MAIL FROM, one RCPT TO and DATA with msg on a new session with addr and
// returns the first command refused and its reply ("RCPT 550 5.1.1 No such mailbox"), or
// "DATA 250" when the message was accepted.
func transaction(t *testing.T, addr, mailFrom, rcpt string, msg []byte) string {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(mailFrom, nil); err != nil {
		return "MAIL " + smtpReply(err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return "RCPT " + smtpReply(err)
	}
	w, err := c.Data()
	if err != nil {
		return "DATA " + smtpReply(err)
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	return "DATA " + smtpReply(w.Close())
}

// Replies are counted per person and day, once authenticated: a forward gives every address
// it names a reverse alias, so anyone with an account could mail their own alias copying in
// any addresses and "reply all" to mail them from the relay domain. A reply that fails
// authentication (a forged envelope) spends nothing of the person's budget.
func TestRepliesAreCountedPerPerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{replyLimit: 3})
		ctx := context.Background()
		var rcpts []string
		for i, addr := range []string{"a@acme.test", "b@acme.test", "c@acme.test"} {
			tok := fmt.Sprintf("tok%d", i)
			f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(addr).SetToken(tok).ExecX(ctx)
			rcpts = append(rcpts, "r-"+tok+"@"+domain)
		}
		f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
		for range 5 {
			if err := send(f.addr, person, rcpts[:2], replyMessage(person)); smtpCode(err) != "550 5.7.26" {
				t.Fatalf("forged reply: %v, want 550 5.7.26", err)
			}
		}
		f.zone.setTXT("example.com", "v=spf1 ip4:127.0.0.0/8 -all")
		if err := send(f.addr, person, rcpts[:2], replyMessage(person)); err != nil {
			t.Fatalf("a reply to two contacts after five forged ones: %v", err)
		}
		if err := send(f.addr, person, rcpts, replyMessage(person)); smtpCode(err) != "450 4.7.1" {
			t.Fatalf("replies to five contacts in a day with a limit of 3: %v, want 450 4.7.1", err)
		}
		if n := f.out.Count(); n != 2 {
			t.Errorf("%d messages sent, want the first reply's 2", n)
		}
	})
}

// A refused reply refuses the whole transaction: a forward to an alias in the same
// transaction is not sent either.
func TestRefusedReplyRefusesTheWholeMessage(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		f.zone.setTXT("example.com", "v=spf1 -all")
		err := send(f.addr, person, []string{alias, reverseAlias()}, replyMessage(person))
		if got := smtpCode(err); got != "550 5.7.26" {
			t.Errorf("DATA = %v, want 550 5.7.26", err)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages sent, want none", n)
		}
	})
}

func TestReplyStripsHeadersNamingThePerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("Pending@Example.NET").ExecX(ctx) // unverified: still theirs

		reply := []byte("Return-Path: <" + person + ">\r\n" +
			"Received: from laptop ([192.0.2.7]) by smtp.example.com for <" + reverseAlias() + ">\r\n" +
			"Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=" + person + "\r\n" +
			"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; b=c2ln\r\n" +
			"ARC-Seal: i=1; a=rsa-sha256; d=example.com; s=arc; cv=none; b=c2ln\r\n" +
			"From: \"Pat Person\" <" + person + ">\r\n" +
			"Sender: " + person + "\r\n" +
			"Reply-To: Pat <PERSON@EXAMPLE.COM>\r\n" +
			"To: \"Acme Support via LoginSign\" <" + reverseAlias() + ">\r\n" +
			"Cc: \"Pat\" <" + strings.ToUpper(person) + ">, Colleague <colleague@example.org>\r\n" +
			"Cc: pending@example.net\r\n" +
			"Bcc: " + person + "\r\n" +
			"Disposition-Notification-To: " + person + "\r\n" +
			"Return-Receipt-To: " + person + "\r\n" +
			"X-Confirm-Reading-To: " + person + "\r\n" +
			"X-Sender: " + person + "\r\n" +
			"X-Original-To: " + person + "\r\n" +
			"X-Originating-IP: [192.0.2.7]\r\n" +
			"List-Unsubscribe: <mailto:unsubscribe@list.test?body=" + strings.Replace(person, "@", "%40", 1) + ">\r\n" +
			"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
			"X-Account: =?utf-8?q?person=40example=2Ecom?=\r\n" +
			"X-Folded: Pat\r\n\t" + person + "\r\n" +
			"X-Mailer: Mail Client 1.0\r\n" +
			"Message-ID: <secret-123@mail.example.com>\r\n" +
			"In-Reply-To: <" + forwardID("m1@acme.test") + ">\r\n" +
			"Subject: Re: Your invoice\r\n\r\n" +
			"Thanks!\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		h := parseHeader(t, e.Data)

		for _, leak := range []string{"example.com", "example.net", "192.0.2.7", "Pat", "%40"} {
			if bytes.Contains(bytes.ToLower(e.Header()), bytes.ToLower([]byte(leak))) {
				t.Errorf("reply header reveals %q:\n%s", leak, e.Header())
			}
		}
		for _, gone := range []string{"Return-Path", "Received", "Authentication-Results", "Dkim-Signature", "Arc-Seal",
			"Sender", "Reply-To", "Bcc", "Disposition-Notification-To", "Return-Receipt-To", "X-Confirm-Reading-To",
			"X-Sender", "X-Original-To", "X-Originating-Ip", "List-Unsubscribe", "List-Unsubscribe-Post", "X-Account", "X-Folded",
			"X-Mailer"} {
			if h.Has(gone) {
				t.Errorf("%s was kept: %q", gone, h.Get(gone))
			}
		}
		if cc, err := h.AddressList("Cc"); err != nil || len(cc) != 1 || cc[0].Address != "colleague@example.org" {
			t.Errorf("Cc = %v (%v), want only colleague@example.org", cc, err)
		}
		if got := len(h.Values("Cc")); got != 1 {
			t.Errorf("%d Cc fields, want 1", got)
		}
		for key, want := range map[string]string{
			"In-Reply-To": "<m1@acme.test>",
			"Subject":     "Re: Your invoice",
			"From":        "<" + alias + ">",
			"To":          "<" + original + ">",
		} {
			if got := h.Get(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		if id := h.Get("Message-Id"); !strings.HasSuffix(id, "@"+domain+">") {
			t.Errorf("Message-ID = %q, want one on %s", id, domain)
		}
	})
}

func TestForwardDoesNotInviteDirectAnswers(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		newsletter := func(unsubscribe string) []byte {
			return []byte("From: News <news@list.test>\r\n" +
				"To: " + alias + "\r\n" +
				"Disposition-Notification-To: news@list.test\r\n" +
				"Return-Receipt-To: news@list.test\r\n" +
				"X-Confirm-Reading-To: news@list.test\r\n" +
				"Errors-To: errors@list.test\r\n" +
				"List-Unsubscribe: " + unsubscribe + "\r\n" +
				"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
				"Subject: News\r\n\r\nnews\r\n")
		}

		if err := send(f.addr, "bounce@list.test", []string{alias}, newsletter("<mailto:unsubscribe@list.test?subject=stop>,\r\n <https://list.test/u/1>")); err != nil {
			t.Fatalf("send: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		for _, gone := range []string{"Disposition-Notification-To", "Return-Receipt-To", "X-Confirm-Reading-To", "Errors-To"} {
			if h.Has(gone) {
				t.Errorf("%s was kept: %q", gone, h.Get(gone))
			}
		}
		if got, want := h.Get("List-Unsubscribe"), "<https://list.test/u/1>"; got != want {
			t.Errorf("List-Unsubscribe = %q, want %q", got, want)
		}
		if got := h.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q, want it kept with an https URI", got)
		}

		if err := send(f.addr, "bounce@list.test", []string{alias}, newsletter("<mailto:unsubscribe@list.test>")); err != nil {
			t.Fatalf("send: %v", err)
		}
		h = parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		if h.Has("List-Unsubscribe") || h.Has("List-Unsubscribe-Post") {
			t.Errorf("mailto-only List-Unsubscribe kept: %q / %q", h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
		}

		// A bounce of the forward (from <> to the reverse alias) goes nowhere: its report,
		// which names the person's address, never reaches the sender.
		contact := f.db.RelayContact.Query().OnlyX(context.Background())
		dsn := []byte("From: MAILER-DAEMON@example.com\r\nSubject: Undelivered Mail\r\n\r\nFinal-Recipient: rfc822; " + person + "\r\n")
		if err := send(f.addr, "", []string{"r-" + contact.Token + "@" + domain}, dsn); smtpReply(err) != replyRefused {
			t.Errorf("bounce to the reverse alias: %v, want %s", err, replyRefused)
		}
		if n := f.out.Count(); n != 2 {
			t.Errorf("%d messages sent, want the 2 forwards", n)
		}
	})
}

// TestForwardEnforcesTheSendersDMARCPolicy: a forward leaves from the relay domain, so the
// person's mail provider cannot check the From domain's DMARC any more. Without the relay's
// own check, anyone could send "From: Bank <security@bank.test>" to an alias and the person
// would get it as "Bank (security at bank.test) via LoginSign", signed for the relay domain.
func TestForwardEnforcesTheSendersDMARCPolicy(t *testing.T) {
	t.Parallel()
	key := newDKIMKey(t)
	mailFrom := func(from string) []byte {
		return []byte("From: " + from + "\r\nTo: " + alias + "\r\n" +
			"Authentication-Results: mx.relay.test; dmarc=pass header.from=forged.test\r\n" +
			"ARC-Authentication-Results: i=1; mx.forged.test; dmarc=pass\r\n" +
			"Received-SPF: pass (forged.test: it says so)\r\n" +
			"Subject: Your account\r\n\r\nPlease sign in.\r\n")
	}
	for _, tc := range []struct {
		name     string
		zone     func(z *zone)
		mailFrom string // envelope sender; the peer is 127.0.0.1
		msg      func(t *testing.T) []byte
		want     string // the reply code of DATA; "" when forwarded
		wantName string // the forward's From name
		results  string // the forward's Authentication-Results, after "mx.relay.test; "
	}{
		{
			name:     "spoofed From of a domain with p=reject",
			zone:     func(z *zone) { z.setTXT("_dmarc.bank.test", "v=DMARC1; p=reject") },
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("Bank <security@bank.test>") },
			want:     "550 5.7.26",
		},
		{
			name:     "spoofed From of a domain with p=quarantine",
			zone:     func(z *zone) { z.setTXT("_dmarc.quarantine.test", "v=DMARC1; p=quarantine") },
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("security@quarantine.test") },
			want:     "550 5.7.26",
		},
		{
			name: "envelope forged too: the domain's SPF does not list the peer",
			zone: func(z *zone) {
				z.setTXT("_dmarc.spf.test", "v=DMARC1; p=reject")
				z.setTXT("spf.test", "v=spf1 ip4:192.0.2.0/24 -all")
			},
			mailFrom: "bounce@spf.test",
			msg:      func(*testing.T) []byte { return mailFrom("security@spf.test") },
			want:     "550 5.7.26",
		},
		{
			name:     "subdomain under an organizational record with sp=reject",
			zone:     func(z *zone) { z.setTXT("_dmarc.org.test", "v=DMARC1; p=none; sp=reject") },
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("alerts@mail.org.test") },
			want:     "550 5.7.26",
		},
		{
			name:     "a DNS failure that keeps the policy unknown defers",
			zone:     func(z *zone) { z.breakDomain("broken.test") },
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("security@broken.test") },
			want:     "451 4.7.26",
		},
		{
			name:     "several From addresses",
			zone:     func(z *zone) {},
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("security@bank.test, me@evil.test") },
			want:     "550 5.7.1",
		},
		{
			name: "DKIM-signed by the From domain, sent from a peer SPF does not list",
			zone: func(z *zone) {
				z.setTXT("_dmarc.signed.test", "v=DMARC1; p=reject")
				z.setTXT("signed.test", "v=spf1 ip4:192.0.2.0/24 -all")
				z.setTXT("sel._domainkey.signed.test", key.record)
			},
			mailFrom: "bounce@signed.test",
			msg:      func(t *testing.T) []byte { return key.sign(t, mailFrom("Signed <news@signed.test>"), "signed.test") },
			wantName: "Signed (news at signed.test) via LoginSign",
			results:  "dmarc=pass (dkim, p=reject) header.from=signed.test",
		},
		{
			name:     "aligned SPF pass, no DMARC record",
			zone:     func(z *zone) { z.setTXT("plain.test", "v=spf1 ip4:127.0.0.0/8 -all") },
			mailFrom: "bounce@plain.test",
			msg:      func(*testing.T) []byte { return mailFrom("Plain <hello@plain.test>") },
			wantName: "Plain (hello at plain.test) via LoginSign",
			results:  "dmarc=none (aligned spf pass, no policy) header.from=plain.test",
		},
		{
			name:     "no DMARC record and nothing passes: forwarded, marked unverified",
			zone:     func(z *zone) {},
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("Bank <security@norecord.test>") },
			wantName: "[unverified] Bank (security at norecord.test) via LoginSign",
			results:  "dmarc=none header.from=norecord.test",
		},
		{
			name:     "p=quarantine at pct=50: the mail not sampled is forwarded, marked",
			zone:     func(z *zone) { z.setTXT("_dmarc.sampled.test", "v=DMARC1; p=quarantine; pct=50") },
			mailFrom: "bounce@evil.test",
			msg:      func(*testing.T) []byte { return mailFrom("security@sampled.test") },
			wantName: "[unverified] security at sampled.test via LoginSign",
			results:  "dmarc=fail (p=none) header.from=sampled.test",
		},
		{
			name:     "a name cannot push the marker or the address out of sight",
			zone:     func(z *zone) {},
			mailFrom: "bounce@evil.test",
			msg: func(*testing.T) []byte {
				name := "PayPal\u00a0\u00a0\u00a0\u2003Security\u200b" + strings.Repeat("\u00a0", 80) + "\u202eTeam"
				return mailFrom(mime.QEncoding.Encode("utf-8", name) + " <me@evil.test>")
			},
			wantName: "[unverified] PayPal Security Team (me at evil.test) via LoginSign",
			results:  "dmarc=none header.from=evil.test",
		},
		{
			name:     "a Reply-To cannot lend its address to an unverified From",
			zone:     func(z *zone) { z.setTXT("_dmarc.bank.test", "v=DMARC1; p=reject") },
			mailFrom: "bounce@evil.test",
			msg: func(*testing.T) []byte {
				return []byte("From: Bank <me@evil.test>\r\nReply-To: security@bank.test\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
			},
			wantName: "[unverified] Bank (me at evil.test, replies go to security at bank.test) via LoginSign",
			results:  "dmarc=none header.from=evil.test",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				tc.zone(f.zone)
				err := send(f.addr, tc.mailFrom, []string{alias}, tc.msg(t))
				if tc.want != "" {
					if smtpCode(err) != tc.want {
						t.Fatalf("DATA: %v, want %s", err, tc.want)
					}
					if n := f.out.Count(); n != 0 {
						t.Errorf("%d messages sent, want none", n)
					}
					if n := f.db.RelayContact.Query().CountX(context.Background()); n != 0 {
						t.Errorf("%d reverse aliases stored for a refused mail, want none", n)
					}
					return
				}
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
				if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Name != tc.wantName {
					t.Errorf("From = %v, want the name %q", from, tc.wantName)
				}
				if got := h.Values("Authentication-Results"); len(got) != 1 || got[0] != "mx.relay.test; "+tc.results {
					t.Errorf("Authentication-Results = %q, want only %q", got, "mx.relay.test; "+tc.results)
				}
				for _, k := range []string{"Arc-Authentication-Results", "Received-Spf"} {
					if h.Has(k) {
						t.Errorf("the sender's %s was kept: %q", k, h.Get(k))
					}
				}
			})
		})
	}
}

// dial opens an SMTP session to addr from the local address local (any 127/8 address works
// on loopback) and says EHLO.
func dial(t *testing.T, local, addr string) *smtp.Client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRcptIsLimitedPerPeer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{rcptLimit: 3})

		c := dial(t, "127.0.0.1", f.addr)
		if err := c.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		// Accepted and refused recipients count alike.
		for i, want := range []string{"550 5.1.1", "550 5.1.1", ""} {
			rcpt := []string{"nobody1@relay.test", "nobody2@relay.test", alias}[i]
			err := c.Rcpt(rcpt, nil)
			if got := smtpCode(err); want != "" && got != want || want == "" && err != nil {
				t.Fatalf("RCPT %d (%s): %v, want %q", i+1, rcpt, err, want)
			}
		}
		for _, rcpt := range []string{alias, "nobody3@relay.test"} {
			if err := c.Rcpt(rcpt, nil); smtpCode(err) != "450 4.7.1" {
				t.Errorf("RCPT past the limit (%s): %v, want 450 4.7.1", rcpt, err)
			}
		}
		// The limit is the peer's, not the connection's.
		c2 := dial(t, "127.0.0.1", f.addr)
		if err := c2.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		if err := c2.Rcpt(alias, nil); smtpCode(err) != "450 4.7.1" {
			t.Errorf("RCPT on a new connection from the same peer: %v, want 450 4.7.1", err)
		}
		// Another peer has its own count.
		other := dial(t, "127.0.0.2", f.addr)
		if err := other.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		if err := other.Rcpt(alias, nil); err != nil {
			t.Errorf("RCPT from another peer: %v", err)
		}
	})
}

func TestRefusedAliasesAnswerAlike(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		other := f.newUser(t, "other@example.com")
		f.db.AppConnection.UpdateOne(f.newConnection(t, other, "muted1@relay.test")).SetEmailMuted(true).ExecX(ctx)
		f.db.AppConnection.UpdateOne(f.newConnection(t, other, "nofwd1@relay.test")).SetIsForwarding(false).ExecX(ctx)
		f.db.AppConnection.UpdateOne(f.newConnection(t, other, "block1@relay.test")).SetBlocked(true).ExecX(ctx)
		f.db.RetiredAlias.Create().SetAddress("gone42@relay.test").ExecX(ctx)

		c := dial(t, "127.0.0.1", f.addr)
		if err := c.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		unknown := c.Rcpt("nobody@relay.test", nil)
		if smtpCode(unknown) != "550 5.1.1" {
			t.Fatalf("unknown alias: %v, want 550 5.1.1", unknown)
		}
		for name, rcpt := range map[string]string{
			"muted": "muted1@relay.test", "not forwarding": "nofwd1@relay.test",
			"blocked": "block1@relay.test", "retired": "gone42@relay.test",
		} {
			if err := c.Rcpt(rcpt, nil); err == nil || err.Error() != unknown.Error() {
				t.Errorf("%s alias: %v, want the unknown alias's answer %q", name, err, unknown)
			}
		}
	})
}

// A "reply all" of the person must not go from their real address to the people the sender
// copied: the forward names every participant by a reverse alias, and the reply names them
// again by their own addresses.
func TestForwardMasksParticipantsAndReplyUnmasksThem(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		msg := []byte("From: \"Acme Support\" <" + original + ">\r\n" +
			"To: " + alias + ", \"Bob\" <bob@acme.test>\r\n" +
			"Cc: carol@acme.test, " + original + "\r\n" +
			"Subject: Meeting\r\n\r\nSee you.\r\n")
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("forward: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		reverseOf := func(addr string) string {
			c := f.db.RelayContact.Query().Where(relaycontact.ContactAddress(addr)).OnlyX(ctx)
			return "r-" + c.Token + "@" + domain
		}
		to, _ := h.AddressList("To")
		if len(to) != 2 || to[0].Address != alias || to[1].Address != reverseOf("bob@acme.test") || to[1].Name != "Bob (bob at acme.test) via LoginSign" {
			t.Errorf("To = %v, want the alias and Bob's reverse alias", to)
		}
		cc, _ := h.AddressList("Cc")
		if len(cc) != 2 || cc[0].Address != reverseOf("carol@acme.test") || cc[1].Address != reverseOf(original) {
			t.Errorf("Cc = %v, want the reverse aliases of carol and of the sender", cc)
		}

		// A group with no address stays as it is.
		undisclosed := []byte("From: " + original + "\r\nTo: undisclosed-recipients:;\r\nSubject: Hi\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, undisclosed); err != nil {
			t.Fatalf("forward: %v", err)
		}
		uh := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		if got := uh.Get("To"); got != "undisclosed-recipients:;" {
			t.Errorf("To = %q, want undisclosed-recipients:; kept", got)
		}

		// Reply all: to the sender's reverse alias, Bob's and Carol's on Cc, plus one of no
		// use to the contact (unknown token).
		reply := []byte("From: " + person + "\r\n" +
			"To: " + reverseOf(original) + "\r\n" +
			"Cc: " + reverseOf("bob@acme.test") + ", " + reverseOf("carol@acme.test") + ", r-unknown@" + domain + "\r\n" +
			"Subject: Re: Meeting\r\n\r\nYes.\r\n")
		if err := send(f.addr, person, []string{reverseOf(original), reverseOf("bob@acme.test"), reverseOf("carol@acme.test")}, reply); err != nil {
			t.Fatalf("reply all: %v", err)
		}
		got := map[string]string{}
		for _, e := range f.out.Wait(t, 5)[2:] {
			if e.From != alias {
				t.Errorf("reply to %v left from %s, want %s", e.To, e.From, alias)
			}
			rh := parseHeader(t, e.Data)
			got[strings.Join(e.To, ",")] = rh.Get("Cc")
		}
		for _, rcpt := range []string{original, "bob@acme.test", "carol@acme.test"} {
			cc, ok := got[rcpt]
			if !ok {
				t.Errorf("no reply reached %s (got %v)", rcpt, got)
				continue
			}
			if cc != "<bob@acme.test>, <carol@acme.test>" {
				t.Errorf("Cc seen by %s = %q, want the participants' own addresses", rcpt, cc)
			}
		}
	})
}
