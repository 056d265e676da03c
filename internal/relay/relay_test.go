package relay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"loginsign/ent"
	"loginsign/ent/relaycontact"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/relay"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

const (
	domain   = "relay.test"
	alias    = "x9s8d7@relay.test"
	person   = "person@example.com"
	original = "support@acme.test"
)

// fixture is a relay wired to a database, a Redis, a test DNS zone and a mailtest listener.
type fixture struct {
	db    *ent.Client
	out   *mailtest.Server
	addr  string // the relay's host:port
	zone  *zone  // the DNS the relay authenticates replies with
	conn  *ent.AppConnection
	user  *ent.User
	app   *ent.Application
	kv    *kv.Store // the relay's Redis
	count int       // users created, for global ids
}

type fixtureOptions struct {
	maxMessageBytes int64
	rcptLimit       int
	replyLimit      int
	contactLimit    int
	maxConnections  int
	maxSession      time.Duration
	logger          *slog.Logger
	sender          func(*mailtest.Server) mail.Sender
}

// newFixture starts a relay on db. The DNS zone lets 127.0.0.0/8 send for example.com and
// example.net by SPF, so replies of the person from this machine pass as they are, and for
// acme.test, so forwards from the fixture's sender are verified.
func newFixture(tb testing.TB, db *store.DB, opts fixtureOptions) *fixture {
	tb.Helper()
	f := &fixture{db: db.Client, zone: newZone()}
	f.zone.setTXT("example.com", "v=spf1 ip4:127.0.0.0/8 -all")
	f.zone.setTXT("example.net", "v=spf1 ip4:127.0.0.0/8 -all")
	f.zone.setTXT("acme.test", "v=spf1 ip4:127.0.0.0/8 -all")
	if opts.logger == nil {
		opts.logger = slog.New(slog.NewTextHandler(tbWriter{tb}, nil))
	}
	f.out = mailtest.Start(tb)
	var out mail.Sender
	if opts.sender != nil {
		out = opts.sender(f.out)
	} else {
		out = mustSender(tb, f.out.URL(), opts.logger)
	}
	limiter, err := kv.Open(context.Background(), kvtest.URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { limiter.Close() })
	f.kv = limiter
	f.user = f.newUser(tb, person)
	owner := f.newUser(tb, "dev@acme.test")
	f.app = f.db.Application.Create().SetOwnerID(owner.ID).SetName("Acme").SetSecretHash(ids.Hash("s")).SaveX(context.Background())
	f.conn = f.newConnection(tb, f.user, alias)

	srv := relay.NewServer(relay.Config{Domain: domain, Hostname: "mx.relay.test", MaxMessageBytes: opts.maxMessageBytes,
		Logger: opts.logger, KV: limiter, RcptLimit: opts.rcptLimit, ReplyLimit: opts.replyLimit, ContactLimit: opts.contactLimit, MaxConnections: opts.maxConnections, Resolver: f.zone,
		MaxSessionDuration: opts.maxSession}, f.db, out)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f.addr = l.Addr().String()
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return f
}

func mustSender(tb testing.TB, url string, logger *slog.Logger) mail.Sender {
	tb.Helper()
	s, err := mail.New(mail.Config{URL: url, From: "LoginSign <no-reply@loginsign.test>", Logger: logger,
		RetryDelays: []time.Duration{time.Millisecond, time.Millisecond}})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// zone is the test DNS: TXT records by name; every other query finds nothing. A name in a
// domain marked broken fails temporarily, like an unreachable name server.
type zone struct {
	mu     sync.Mutex
	txt    map[string][]string
	broken map[string]bool
}

func newZone() *zone { return &zone{txt: map[string][]string{}, broken: map[string]bool{}} }

// setTXT replaces the TXT records of name; none removes them.
func (z *zone) setTXT(name string, records ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.txt[name] = records
}

// breakDomain makes every lookup of domain and its subdomains fail temporarily.
func (z *zone) breakDomain(domain string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.broken[domain] = true
}

func (z *zone) LookupTXT(_ context.Context, name string) ([]string, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	z.mu.Lock()
	defer z.mu.Unlock()
	for d := range z.broken {
		if name == d || strings.HasSuffix(name, "."+d) {
			return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
		}
	}
	if r := z.txt[name]; len(r) > 0 {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z *zone) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z *zone) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (z *zone) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

func (f *fixture) newUser(tb testing.TB, email string) *ent.User {
	tb.Helper()
	f.count++
	return f.db.User.Create().SetEmail(email).SetGlobalID(fmt.Sprintf("AB%04d", f.count)).SaveX(context.Background())
}

func (f *fixture) newConnection(tb testing.TB, u *ent.User, aliasEmail string) *ent.AppConnection {
	tb.Helper()
	app := f.app
	if u.ID != f.user.ID || f.conn != nil {
		// one connection per (user, app): give other connections their own app
		app = f.db.Application.Create().SetOwnerID(f.user.ID).SetName("App " + aliasEmail).SetSecretHash(ids.Hash(aliasEmail)).SaveX(context.Background())
	}
	return f.db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).SetAliasEmail(aliasEmail).SaveX(context.Background())
}

// send runs one SMTP transaction into addr and returns the first error, as the server said it.
func send(addr, from string, to []string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		return err
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// smtpCode returns the reply code and enhanced code of err, e.g. "550 5.7.1".
func smtpCode(err error) string {
	var e *smtp.SMTPError
	if !errors.As(err, &e) {
		return fmt.Sprintf("not an SMTP error: %v", err)
	}
	return fmt.Sprintf("%d %d.%d.%d", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2])
}

// smtpReply returns the whole reply of err, e.g. "550 5.1.1 No such mailbox"; "250" for nil.
func smtpReply(err error) string {
	var e *smtp.SMTPError
	if err == nil {
		return "250"
	}
	if !errors.As(err, &e) {
		return fmt.Sprintf("not an SMTP error: %v", err)
	}
	return smtpCode(err) + " " + e.Message
}

// replyRefused is the one answer of a reverse alias that refuses a message: at RCPT for the
// null sender, at DATA for every other reason.
const replyRefused = "550 5.7.26 Reply refused: only the owner of a live reverse alias may write to it, " +
	"from one From address that passes SPF or DKIM aligned with its domain (DMARC)"

// forwardID is the message id a forward carries for id: its base32, on the relay domain.
func forwardID(id string) string {
	return "fwd-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(id))) + "@" + domain
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// message is a multipart mail with a text part and a binary attachment, CRLF throughout.
func message(to string, attachment []byte) (header, body []byte) {
	header = []byte("Return-Path: <bounce@acme.test>\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=acme.test; s=sel;\r\n\th=from:to:subject; b=c2lnbmF0dXJl\r\n" +
		"From: \"Acme Support\" <" + original + ">\r\n" +
		"Sender: mailer@esp.test\r\n" +
		"To: " + to + "\r\n" +
		"Subject: =?utf-8?q?Your_invoice_=E2=82=AC?=\r\n" +
		"Message-ID: <m1@acme.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n")
	var b strings.Builder
	b.WriteString("This is a multi-part message in MIME format.\r\n--BOUNDARY\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString("Hello Zoë,\r\n.a line that starts with a dot\r\n\r\nyour invoice is attached.\r\n")
	b.WriteString("--BOUNDARY\r\nContent-Type: application/octet-stream; name=\"invoice.bin\"\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"invoice.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(attachment)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--BOUNDARY--\r\n")
	return header, []byte(b.String())
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestForwardKeepsBodyAndAttachmentByteIdentical(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		attachment := randomBytes(50_000)
		header, body := message(alias, attachment)

		if err := send(f.addr, "bounce@acme.test", []string{alias}, append(append(header, "\r\n"...), body...)); err != nil {
			t.Fatalf("send: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)

		if !bytes.Equal(e.Body(), body) {
			t.Errorf("forwarded body differs from the original (%d vs %d bytes)", len(e.Body()), len(body))
		}
		got := attachmentOf(t, e.Data)
		if !bytes.Equal(got, attachment) {
			t.Errorf("decoded attachment differs (%d vs %d bytes)", len(got), len(attachment))
		}
		if want := "Hello Zoë,\r\n.a line that starts with a dot\r\n"; !strings.HasPrefix(e.Text, want) {
			t.Errorf("text part = %q, want prefix %q", e.Text, want)
		}
		if got, want := strings.Join(e.To, ","), person; got != want {
			t.Errorf("forwarded to %q, want %q", got, want)
		}
	})
}

func TestForwardRewritesTopLevelHeaders(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		header, body := message(alias, randomBytes(100))

		if err := send(f.addr, "bounce@acme.test", []string{alias}, append(append(header, "\r\n"...), body...)); err != nil {
			t.Fatalf("send: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)

		contact := f.db.RelayContact.Query().OnlyX(context.Background())
		if contact.ContactAddress != original || contact.ConnectionID != f.conn.ID {
			t.Fatalf("RelayContact = %+v, want %s on %s", contact, original, f.conn.ID)
		}
		reverse := "r-" + contact.Token + "@" + domain
		if e.From != reverse {
			t.Errorf("envelope sender = %q, want the reverse alias %q", e.From, reverse)
		}
		h := parseHeader(t, e.Data)
		from, _ := h.AddressList("From")
		if len(from) != 1 || from[0].Address != reverse || from[0].Name != "Acme Support (support at acme.test) via LoginSign" {
			t.Errorf("From = %v, want \"Acme Support (support at acme.test) via LoginSign\" <%s>", from, reverse)
		}
		if replyTo, _ := h.AddressList("Reply-To"); len(replyTo) != 1 || replyTo[0].Address != reverse {
			t.Errorf("Reply-To = %v, want %s", replyTo, reverse)
		}
		for key, want := range map[string]string{
			"X-Original-From":   `"Acme Support" <support@acme.test>`,
			"X-Loginsign-Relay": "forward",
			"To":                alias,
			"Message-Id":        "<" + forwardID("m1@acme.test") + ">",
		} {
			if got := h.Get(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		if subject, _ := h.Subject(); subject != "Your invoice €" {
			t.Errorf("Subject = %q", subject)
		}
		for _, gone := range []string{"Dkim-Signature", "Sender", "Return-Path"} {
			if h.Has(gone) {
				t.Errorf("%s was kept: %q", gone, h.Get(gone))
			}
		}
		if got := h.Get("Received"); !strings.Contains(got, "by mx.relay.test") || !strings.Contains(got, "for <"+alias+">") {
			t.Errorf("Received = %q", got)
		}
		if bytes.Contains(e.Header(), []byte("esp.test")) {
			t.Errorf("the removed Sender still shows in the header:\n%s", e.Header())
		}

		// A second mail from the same sender reuses the reverse alias.
		if err := send(f.addr, "", []string{alias}, append(append(header, "\r\n"...), body...)); err != nil {
			t.Fatalf("second send: %v", err)
		}
		if e2 := f.out.Next(t, 5*time.Second); e2.From != reverse {
			t.Errorf("second forward: envelope sender = %q, want %q", e2.From, reverse)
		}
		if n := f.db.RelayContact.Query().CountX(context.Background()); n != 1 {
			t.Errorf("%d RelayContacts, want 1", n)
		}
	})
}

func TestForwardAcceptsAliasInAnyCase(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		if err := send(f.addr, original, []string{"X9S8D7@Relay.TEST"}, []byte("From: "+original+"\r\nSubject: hi\r\n\r\nhi\r\n")); err != nil {
			t.Fatalf("send: %v", err)
		}
		if e := f.out.Next(t, 5*time.Second); e.To[0] != person {
			t.Errorf("forwarded to %v", e.To)
		}
	})
}

// A Reply-To that is not the From address is named in the From name the person sees: the
// person's reply goes to that address, which the name would hide otherwise.
func TestForwardNamesWhereRepliesGo(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		for _, tc := range []struct{ replyTo, wantName, wantContact string }{
			{"victim@third.test", "Acme Support (support at acme.test, replies go to victim at third.test) via LoginSign", "victim@third.test"},
			{"Support <SUPPORT@Acme.test>", "Acme Support (support at acme.test) via LoginSign", original},
		} {
			msg := []byte("From: \"Acme Support\" <" + original + ">\r\nReply-To: " + tc.replyTo + "\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
			if err := send(f.addr, original, []string{alias}, msg); err != nil {
				t.Fatalf("send: %v", err)
			}
			h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
			from, _ := h.AddressList("From")
			if len(from) != 1 || from[0].Name != tc.wantName {
				t.Errorf("Reply-To %s: From = %v, want the name %q", tc.replyTo, from, tc.wantName)
				continue
			}
			token := strings.TrimPrefix(strings.Split(from[0].Address, "@")[0], "r-")
			if c := f.db.RelayContact.Query().Where(relaycontact.Token(token)).OnlyX(context.Background()); c.ContactAddress != tc.wantContact {
				t.Errorf("Reply-To %s: a reply goes to %s, want %s", tc.replyTo, c.ContactAddress, tc.wantContact)
			}
		}
	})
}

// A mail with neither From, Reply-To nor envelope sender has no one to answer: its forward
// comes from no-reply@<relay domain>, which takes no mail, so bounces and automatic answers of
// the person's mail system end at the relay instead of coming back through the alias, and no
// reverse alias is made.
func TestForwardWithoutSenderComesFromNoReply(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		noReply := "no-reply@" + domain
		if err := send(f.addr, "", []string{alias}, []byte("To: "+alias+"\r\nSubject: no sender\r\n\r\nhi\r\n")); err != nil {
			t.Fatalf("send: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		if e.From != noReply {
			t.Errorf("envelope sender = %q, want %s", e.From, noReply)
		}
		h := parseHeader(t, e.Data)
		if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Address != noReply || from[0].Name != "Unknown sender via LoginSign" {
			t.Errorf("From = %v, want \"Unknown sender via LoginSign\" <%s>", from, noReply)
		}
		if n := f.db.RelayContact.Query().CountX(context.Background()); n != 0 {
			t.Errorf("%d reverse aliases, want none", n)
		}
		for _, mailFrom := range []string{"", person} {
			if err := send(f.addr, mailFrom, []string{noReply}, []byte("From: "+person+"\r\nSubject: Auto: away\r\n\r\naway\r\n")); smtpReply(err) != "550 5.1.1 No such mailbox" {
				t.Errorf("mail from %q to %s: %v, want 550 5.1.1 No such mailbox", mailFrom, noReply, err)
			}
		}
	})
}

// The person writing to their own alias from their own address (the mail passes DMARC) gets
// the forward from no-reply: no reverse alias may hold the person's own address, which the Cc
// of their replies would turn back into. A From that only claims the person's address, failing
// DMARC, is any sender's word: it gets its reverse alias like every other, so the outcome
// tells a forger nothing.
func TestForwardFromThePersonMakesNoReverseAlias(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		msg := []byte("From: Pat <" + person + ">\r\nTo: " + alias + "\r\nSubject: note to self\r\n\r\nhi\r\n")
		if err := send(f.addr, person, []string{alias}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		h := parseHeader(t, e.Data)
		from, _ := h.AddressList("From")
		if e.From != "no-reply@"+domain || len(from) != 1 || from[0].Address != "no-reply@"+domain || from[0].Name != "Pat (person at example.com) via LoginSign" {
			t.Errorf("envelope %s, From %v; want both no-reply@%s, named \"Pat (person at example.com) via LoginSign\"", e.From, from, domain)
		}
		if n := f.db.RelayContact.Query().CountX(ctx); n != 0 {
			t.Errorf("%d reverse aliases hold the person's own address, want none", n)
		}

		f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
		if err := send(f.addr, person, []string{alias}, msg); err != nil {
			t.Fatalf("forged send: %v", err)
		}
		h = parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		from, _ = h.AddressList("From")
		if len(from) != 1 || !strings.HasPrefix(from[0].Address, "r-") || !strings.HasPrefix(from[0].Name, "[unverified] ") {
			t.Errorf("forged From = %v, want an unverified sender with a reverse alias", from)
		}
	})
}

// A second MAIL FROM without RSET starts a new transaction, as go-smtp allows it: the
// recipients accepted before it are dropped, so no message reaches a recipient under another
// envelope sender than the one it was accepted with, and DATA without a recipient since the
// last MAIL FROM is refused.
func TestSecondMailFromDropsTheRecipients(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		msg := []byte("From: " + original + "\r\nSubject: hi\r\n\r\nhi\r\n")
		c := dial(t, "127.0.0.1", f.addr)
		for _, step := range []func() error{
			func() error { return c.Mail(original, nil) },
			func() error { return c.Rcpt(alias, nil) },
			func() error { return c.Mail(original, nil) },
			func() error { return c.Rcpt(otherAlias, nil) },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(msg)
		if err := w.Close(); err != nil {
			t.Fatalf("DATA: %v", err)
		}
		var to []string
		for _, e := range f.out.Messages() {
			to = append(to, e.To...)
		}
		if len(to) != 1 || to[0] != "other@example.com" {
			t.Errorf("delivered to %v, want other@example.com only, the recipient of the second MAIL FROM", to)
		}

		if err := c.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(alias, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		if w, err = c.Data(); err == nil {
			w.Write(msg)
			err = w.Close()
		}
		if got := smtpReply(err); got != "554 5.5.1 No valid recipients since the last MAIL FROM" {
			t.Errorf("DATA with no recipient since the last MAIL FROM: %s, want 554 5.5.1", got)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d messages delivered, want 1", n)
		}
	})
}

func TestReplyLeavesFromTheAlias(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		header, body := message(alias, randomBytes(100))
		if err := send(f.addr, original, []string{alias}, append(append(header, "\r\n"...), body...)); err != nil {
			t.Fatalf("forward: %v", err)
		}
		forwarded := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		replyTo, _ := forwarded.AddressList("Reply-To")
		reverse := replyTo[0].Address

		reply := []byte("From: \"Pat Person\" <" + person + ">\r\n" +
			"Sender: " + person + "\r\n" +
			"Reply-To: " + person + "\r\n" +
			"To: \"Acme Support via LoginSign\" <" + reverse + ">\r\n" +
			"Received: from [192.0.2.7] by smtp.example.com\r\n" +
			"X-Originating-IP: [192.0.2.7]\r\n" +
			"Message-ID: <secret-123@mail.example.com>\r\n" +
			"In-Reply-To: " + forwarded.Get("Message-Id") + "\r\n" +
			"Subject: Re: Your invoice\r\n\r\n" +
			"Thanks!\r\n")
		if err := send(f.addr, strings.ToUpper(person), []string{reverse}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)

		if e.From != alias || strings.Join(e.To, ",") != original {
			t.Errorf("envelope %s -> %v, want %s -> %s", e.From, e.To, alias, original)
		}
		h := parseHeader(t, e.Data)
		if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Address != alias || from[0].Name != "" {
			t.Errorf("From = %v, want <%s>", from, alias)
		}
		if to, _ := h.AddressList("To"); len(to) != 1 || to[0].Address != original {
			t.Errorf("To = %v, want %s", to, original)
		}
		if got := h.Get("In-Reply-To"); got != "<m1@acme.test>" {
			t.Errorf("In-Reply-To = %q, want the id of the mail answered, as its sender wrote it", got)
		}
		for _, leak := range []string{person, "example.com", "192.0.2.7", "Pat Person"} {
			if bytes.Contains(bytes.ToLower(e.Header()), bytes.ToLower([]byte(leak))) {
				t.Errorf("reply header reveals %q:\n%s", leak, e.Header())
			}
		}
		if !bytes.Equal(e.Body(), []byte("Thanks!\r\n")) {
			t.Errorf("body = %q", e.Body())
		}
		if c := f.db.RelayContact.Query().OnlyX(ctx); !c.LastUsedAt.After(c.CreatedAt) && !c.LastUsedAt.Equal(c.CreatedAt) {
			t.Errorf("last_used_at %v before created_at %v", c.LastUsedAt, c.CreatedAt)
		}

		// From a verified alternative address: allowed. From an unverified one, a stranger or
		// the null sender: refused, all alike.
		f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("alt@example.net").SetVerifiedAt(time.Now()).ExecX(ctx)
		f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("pending@example.net").ExecX(ctx)
		fromAlt := bytes.Replace(reply, []byte("<"+person+">"), []byte("<alt@example.net>"), 1)
		if err := send(f.addr, "alt@example.net", []string{reverse}, fromAlt); err != nil {
			t.Errorf("reply from a verified alternative address: %v", err)
		}
		fromPending := bytes.Replace(reply, []byte("<"+person+">"), []byte("<pending@example.net>"), 1)
		for _, from := range []string{"pending@example.net", "stranger@example.org", ""} {
			if err := send(f.addr, from, []string{reverse}, fromPending); smtpReply(err) != replyRefused {
				t.Errorf("reply from %q: %v, want %s", from, err, replyRefused)
			}
		}
		if got := len(f.out.Wait(t, 3)); got != 3 {
			t.Errorf("%d messages delivered, want 3", got)
		}
	})
}

// An attacker who copies their own alias into a mail to the person's alias cannot learn the
// person's address from a "reply all": every participant of the forward but the person's own
// alias, another alias on Domain included, is a reverse alias, so the reply reaches the
// attacker's alias from the person's alias. A second To field is masked like the first, and
// the fields mail clients prefer to Reply-To (Mail-Reply-To, Mail-Followup-To, List-Post)
// are removed.
func TestReplyAllRevealsThePersonToNoOtherAlias(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		attackerAlias := "b1b2b3@" + domain
		f.newConnection(t, f.newUser(t, "attacker@evil.test"), attackerAlias)
		header, body := message(alias+", "+attackerAlias, randomBytes(10))
		header = append(header, "To: extra@acme.test\r\nMail-Followup-To: track@acme.test\r\n"+
			"Mail-Reply-To: track@acme.test\r\nList-Post: <mailto:track@acme.test>\r\n"...)
		if err := send(f.addr, original, []string{alias, attackerAlias}, append(append(header, "\r\n"...), body...)); err != nil {
			t.Fatalf("send: %v", err)
		}
		var forwarded gomail.Header
		for _, e := range f.out.Wait(t, 2) {
			if e.To[0] == person {
				forwarded = parseHeader(t, e.Data)
			}
		}
		for _, k := range []string{"Mail-Followup-To", "Mail-Reply-To", "List-Post"} {
			if forwarded.Has(k) {
				t.Errorf("%s kept: %q", k, forwarded.Get(k))
			}
		}
		// What a "reply all" writes to: Reply-To, and every To and Cc but the person's alias.
		replyTo, _ := forwarded.AddressList("Reply-To")
		all := []string{replyTo[0].Address}
		for _, k := range []string{"To", "Cc"} {
			list, _ := forwarded.AddressList(k)
			for _, a := range list {
				if a.Address != alias {
					all = append(all, a.Address)
				}
			}
		}
		if len(all) != 3 {
			t.Fatalf("a reply all writes to %v, want the sender, the other alias and the second To", all)
		}
		for _, a := range all {
			if !strings.HasPrefix(a, "r-") || !strings.HasSuffix(a, "@"+domain) {
				t.Errorf("a reply all writes to %s directly, from the person's address", a)
			}
		}
		reply := []byte("From: <" + person + ">\r\nTo: " + strings.Join(all, ", ") + "\r\nSubject: Re: Your invoice\r\n\r\nThanks!\r\n")
		if err := send(f.addr, person, all, reply); err != nil {
			t.Fatalf("reply all: %v", err)
		}
		replies := f.out.Wait(t, 2+len(all))[2:]
		reached := false
		for _, e := range replies {
			if e.From != alias || bytes.Contains(bytes.ToLower(e.Data), []byte(person)) {
				t.Errorf("a reply to %v left from %s, or names the person:\n%s", e.To, e.From, e.Header())
			}
			reached = reached || e.To[0] == attackerAlias
		}
		if !reached {
			t.Errorf("the reply did not reach the other alias: %v", replies)
		}
	})
}

func TestReverseAliasEndsWithItsConnection(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		contact := f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken("tok123").SaveX(ctx)
		reverse := "r-tok123@" + domain
		reply := []byte("From: " + person + "\r\nSubject: Re\r\n\r\nhi\r\n")

		f.db.AppConnection.UpdateOne(f.conn).SetBlocked(true).ExecX(ctx)
		if err := send(f.addr, person, []string{reverse}, reply); smtpReply(err) != replyRefused {
			t.Errorf("reply while blocked: %v, want %s", err, replyRefused)
		}

		f.db.AppConnection.DeleteOne(f.conn).ExecX(ctx)
		if n := f.db.RelayContact.Query().Where(relaycontact.ID(contact.ID)).CountX(ctx); n != 0 {
			t.Errorf("RelayContact survived its connection")
		}
		if err := send(f.addr, person, []string{reverse}, reply); smtpReply(err) != replyRefused {
			t.Errorf("reply after deletion: %v, want %s", err, replyRefused)
		}
		if err := send(f.addr, person, []string{"r-nosuchtoken@" + domain}, reply); smtpReply(err) != replyRefused {
			t.Errorf("unknown reverse alias: %v, want %s", err, replyRefused)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages delivered, want 0", n)
		}
	})
}

// A reverse alias unused for ContactRetention (neither forwarded through nor replied to) is
// deleted by PurgeContacts, with the third party's address it holds; a reply to it then
// is refused like one to an unknown reverse alias. One used within the year stays, and works.
func TestUnusedReverseAliasesArePurged(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		now := time.Now()
		old := f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken("oldtok").
			SetCreatedAt(now.Add(-800 * 24 * time.Hour)).SetLastUsedAt(now.Add(-relay.ContactRetention - time.Hour)).SaveX(ctx)
		recent := f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("friend@example.net").SetToken("newtok").
			SetCreatedAt(now.Add(-800 * 24 * time.Hour)).SetLastUsedAt(now.Add(-relay.ContactRetention + time.Hour)).SaveX(ctx)

		n, err := relay.PurgeContacts(ctx, db, now.Add(-relay.ContactRetention))
		if err != nil || n != 1 {
			t.Fatalf("PurgeContacts = %d, %v; want 1", n, err)
		}
		if f.db.RelayContact.Query().Where(relaycontact.ID(old.ID)).ExistX(ctx) || !f.db.RelayContact.Query().Where(relaycontact.ID(recent.ID)).ExistX(ctx) {
			t.Fatal("want the unused reverse alias gone and the recent one kept")
		}
		reply := []byte("From: " + person + "\r\nSubject: Re\r\n\r\nhi\r\n")
		if err := send(f.addr, person, []string{"r-oldtok@" + domain}, reply); smtpReply(err) != replyRefused {
			t.Errorf("reply to the purged reverse alias: %v, want %s", err, replyRefused)
		}
		if err := send(f.addr, person, []string{"r-newtok@" + domain}, reply); err != nil {
			t.Errorf("reply to the kept reverse alias: %v", err)
		}
	})
}

// A connection holds at most Config.ContactLimit reverse aliases however many new senders
// write to it (each forging a new From, as a flood would): every mail is still forwarded to the
// person with a reverse alias that works, the newest contacts and the correspondent the person
// replied to stay reachable, and the least recently used contact the person never answered is
// the one replaced. Other connections' contacts are untouched.
func TestContactsPerConnectionAreBounded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const limit = 5
		f := newFixture(t, db, fixtureOptions{contactLimit: limit})
		ctx := context.Background()
		other := f.newConnection(t, f.newUser(t, "other@example.net"), "o1o2o3@"+domain)
		f.db.RelayContact.Create().SetConnectionID(other.ID).SetContactAddress(original).SetToken("othertok").ExecX(ctx)

		// forward mails the alias from sender, copying cc, checks that the person got it with
		// a reverse alias that exists, and returns that reverse alias.
		forward := func(sender, cc string) string {
			t.Helper()
			msg := "From: <" + sender + ">\r\nTo: " + alias + "\r\nCc: " + cc + "\r\nSubject: hello\r\n\r\nhi\r\n"
			if err := send(f.addr, sender, []string{alias}, []byte(msg)); err != nil {
				t.Fatalf("mail from %s: %v", sender, err)
			}
			e := f.out.Next(t, 5*time.Second)
			h := parseHeader(t, e.Data)
			replyTo, _ := h.AddressList("Reply-To")
			if e.To[0] != person || len(replyTo) != 1 || e.From != replyTo[0].Address {
				t.Fatalf("mail from %s: forwarded to %v from %s with Reply-To %v, want to %s from its reverse alias", sender, e.To, e.From, replyTo, person)
			}
			token := strings.TrimPrefix(strings.Split(replyTo[0].Address, "@")[0], "r-")
			if !f.db.RelayContact.Query().Where(relaycontact.Token(token), relaycontact.ContactAddress(sender)).ExistX(ctx) {
				t.Errorf("mail from %s: its reverse alias %s does not exist", sender, replyTo[0].Address)
			}
			return replyTo[0].Address
		}
		// reply answers reverse as the person and returns the address the reply reached.
		reply := func(reverse string) (string, error) {
			t.Helper()
			msg := "From: <" + person + ">\r\nTo: " + reverse + "\r\nSubject: Re: hello\r\n\r\nthanks\r\n"
			if err := send(f.addr, person, []string{reverse}, []byte(msg)); err != nil {
				return "", err
			}
			return f.out.Next(t, 5*time.Second).To[0], nil
		}

		friend := forward("friend@acme.test", "colleague@acme.test")
		if to, err := reply(friend); err != nil || to != "friend@acme.test" {
			t.Fatalf("reply to the friend reached %q: %v", to, err)
		}
		var flood []string
		for i := range 3 * limit {
			flood = append(flood, forward(fmt.Sprintf("s%d@acme.test", i), fmt.Sprintf("cc%d@acme.test", i)))
		}

		if n := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).CountX(ctx); n > limit {
			t.Errorf("the connection holds %d reverse aliases after %d new senders, want at most %d", n, 2+2*len(flood), limit)
		}
		if to, err := reply(friend); err != nil || to != "friend@acme.test" {
			t.Errorf("reply to the friend the person answered before: reached %q, %v", to, err)
		}
		last := len(flood) - 1
		if to, err := reply(flood[last]); err != nil || to != fmt.Sprintf("s%d@acme.test", last) {
			t.Errorf("reply to the latest sender: reached %q, %v", to, err)
		}
		if _, err := reply(flood[0]); smtpReply(err) != replyRefused {
			t.Errorf("reply to the least recently used sender: %v, want %s (replaced)", err, replyRefused)
		}
		if !f.db.RelayContact.Query().Where(relaycontact.Token("othertok")).ExistX(ctx) {
			t.Error("another connection's reverse alias was replaced")
		}
	})
}

// The contact limit never replaces one reverse alias of a forward by another of the same
// forward: with room for two, a mail whose sender and Cc are new replaces the older contact,
// even one the person replied to, rather than the sender's reverse alias its Reply-To names.
func TestContactLimitKeepsTheReverseAliasesOfOneMessage(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{contactLimit: 2})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("friend@acme.test").SetToken("friendtok").
			SetRepliedAt(time.Now()).ExecX(ctx)
		msg := "From: <" + original + ">\r\nTo: " + alias + "\r\nCc: colleague@acme.test\r\nSubject: hello\r\n\r\nhi\r\n"
		if err := send(f.addr, original, []string{alias}, []byte(msg)); err != nil {
			t.Fatalf("send: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		replyTo, _ := h.AddressList("Reply-To")
		cc, _ := h.AddressList("Cc")
		for _, a := range append(replyTo, cc...) {
			token := strings.TrimPrefix(strings.Split(a.Address, "@")[0], "r-")
			if !f.db.RelayContact.Query().Where(relaycontact.Token(token)).ExistX(ctx) {
				t.Errorf("the forward names %s, a reverse alias its own Cc replaced", a.Address)
			}
		}
		if n := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).CountX(ctx); n != 2 {
			t.Errorf("the connection holds %d reverse aliases, want 2", n)
		}
	})
}

// A connection that holds more reverse aliases than the limit, as ones made before it existed
// may, is brought down to it by its next new sender, least recently used first.
func TestContactLimitTrimsAConnectionPastIt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const limit = 5
		f := newFixture(t, db, fixtureOptions{contactLimit: limit})
		ctx := context.Background()
		start := time.Now().Add(-time.Hour)
		for i := range 6 * limit {
			f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(fmt.Sprintf("old%d@acme.test", i)).
				SetToken(fmt.Sprintf("oldtok%d", i)).SetLastUsedAt(start.Add(time.Duration(i) * time.Minute)).ExecX(ctx)
		}
		if err := send(f.addr, original, []string{alias}, []byte("From: <"+original+">\r\nTo: "+alias+"\r\nSubject: hi\r\n\r\nhi\r\n")); err != nil {
			t.Fatalf("send: %v", err)
		}
		if e := f.out.Next(t, 5*time.Second); e.To[0] != person {
			t.Errorf("forwarded to %v, want %s", e.To, person)
		}
		left := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).Order(relaycontact.ByLastUsedAt()).
			Select(relaycontact.FieldContactAddress).StringsX(ctx)
		want := []string{"old26@acme.test", "old27@acme.test", "old28@acme.test", "old29@acme.test", original}
		if strings.Join(left, ",") != strings.Join(want, ",") {
			t.Errorf("the connection holds %v, want the %d most recently used: %v", left, limit, want)
		}
	})
}

func TestRefusedRecipients(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		other := f.newUser(t, "other@example.com")
		for _, c := range []struct{ alias, set string }{
			{"muted1@relay.test", "muted"}, {"nofwd1@relay.test", "not forwarding"}, {"block1@relay.test", "blocked"},
		} {
			conn := f.newConnection(t, other, c.alias)
			u := f.db.AppConnection.UpdateOne(conn)
			switch c.set {
			case "muted":
				u.SetEmailMuted(true)
			case "not forwarding":
				u.SetIsForwarding(false)
			case "blocked":
				u.SetBlocked(true)
			}
			u.ExecX(ctx)
		}
		f.db.RetiredAlias.Create().SetAddress("gone42@relay.test").ExecX(ctx)

		for _, tc := range []struct {
			name, rcpt, want string
		}{
			{"muted", "muted1@relay.test", "550 5.1.1"},
			{"not forwarding", "nofwd1@relay.test", "550 5.1.1"},
			{"blocked", "block1@relay.test", "550 5.1.1"},
			{"deleted (retired)", "gone42@relay.test", "550 5.1.1"},
			{"unknown", "nobody@relay.test", "550 5.1.1"},
			{"foreign domain", "someone@example.org", "550 5.7.1"},
			{"subdomain of the relay domain", "x9s8d7@sub.relay.test", "550 5.7.1"},
			{"relay domain as a suffix", "x9s8d7@evilrelay.test", "550 5.7.1"},
			{"no domain", "x9s8d7", "501 5.5.2"}, // refused by go-smtp's path parser
			{"two at signs", "a@b@relay.test", "501 5.1.3"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := send(f.addr, original, []string{tc.rcpt}, []byte("Subject: hi\r\n\r\nhi\r\n"))
				if got := smtpCode(err); got != tc.want {
					t.Errorf("RCPT TO:<%s> = %v, want %s", tc.rcpt, err, tc.want)
				}
			})
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages delivered, want 0", n)
		}
	})
}

// At most MaxConnections sessions are served at once (a message is held in memory while it is
// relayed, so the count bounds the relay's memory): a connection past it is greeted only once
// a session ends.
func TestConnectionsAreBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), fixtureOptions{maxConnections: 1})
	first, err := smtp.Dial(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Hello("first.example"); err != nil {
		t.Fatal(err)
	}
	greeted := make(chan time.Time, 1)
	go func() {
		c, err := smtp.Dial(f.addr)
		if err == nil {
			err = c.Hello("second.example")
			defer c.Close()
		}
		if err != nil {
			t.Errorf("second session: %v", err)
		}
		greeted <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond) // time for a greeting that should not come
	quit := time.Now()
	if err := first.Quit(); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-greeted:
		if at.Before(quit) {
			t.Fatal("a second session was served while the first was open, past MaxConnections = 1")
		}
	case <-time.After(time.Minute):
		t.Fatal("the second session was never served after the first ended")
	}
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{maxMessageBytes: 8 << 10})
		header, body := message(alias, randomBytes(20<<10))
		err := send(f.addr, original, []string{alias}, append(append(header, "\r\n"...), body...))
		if got := smtpCode(err); got != "552 5.3.4" {
			t.Errorf("oversized message: %v, want 552 5.3.4", err)
		}
		small, smallBody := message(alias, randomBytes(1<<10))
		if err := send(f.addr, original, []string{alias}, append(append(small, "\r\n"...), smallBody...)); err != nil {
			t.Errorf("message under the limit: %v", err)
		}
		if n := len(f.out.Wait(t, 1)); n != 1 {
			t.Errorf("%d messages delivered, want 1", n)
		}
	})
}

func TestLoopIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("X-LoginSign-Relay: forward\r\nX-LoginSign-Relay: forward\r\nX-LoginSign-Relay: forward\r\nFrom: " + original + "\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, msg); smtpCode(err) != "554 5.4.6" {
			t.Errorf("looping message: %v, want 554 5.4.6", err)
		}
	})
}

func TestOutboundTemporaryFailureIsDeferred(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		busy := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy"}
		f.out.FailNext(busy, busy, busy)
		err := send(f.addr, original, []string{alias}, []byte("From: "+original+"\r\n\r\nhi\r\n"))
		if got := smtpCode(err); got != "451 4.4.1" {
			t.Errorf("DATA with the next hop failing: %v, want 451 4.4.1", err)
		}
		if err := send(f.addr, original, []string{alias}, []byte("From: "+original+"\r\n\r\nhi\r\n")); err != nil {
			t.Errorf("retry by the sender: %v", err)
		}
	})
}

func parseHeader(tb testing.TB, data []byte) gomail.Header {
	tb.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("parsing message: %v", err)
	}
	return r.Header
}

func attachmentOf(tb testing.TB, data []byte) []byte {
	tb.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("parsing message: %v", err)
	}
	for {
		p, err := r.NextPart()
		if err != nil {
			tb.Fatalf("no attachment: %v", err)
		}
		if h, ok := p.Header.(*gomail.AttachmentHeader); ok {
			if name, _ := h.Filename(); name == "invoice.bin" {
				b, err := io.ReadAll(p.Body)
				if err != nil {
					tb.Fatal(err)
				}
				return b
			}
		}
	}
}
