package relay_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"loginsign/internal/connections"
	"loginsign/internal/relay"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestADKIMOnlyReplyMustNameItsReverseAliasInASignedToOrCc: when only DKIM authenticates a
// reply (SPF fails for the person's domain), the signature must cover a To or Cc field that
// names the reverse alias the reply is sent to. The person's provider signs the reply it sends,
// so a real reply is delivered whether the reverse alias is in To or in Cc; a signature that
// covers neither, a signed To naming another reverse alias, and an unsigned To added above the
// signed one all get the one refusal of reverse aliases.
func TestADKIMOnlyReplyMustNameItsReverseAliasInASignedToOrCc(t *testing.T) {
	t.Parallel()
	key := newDKIMKey(t)
	reply := func(to, cc string) []byte {
		msg := "From: <" + person + ">\r\nTo: <" + to + ">\r\n"
		if cc != "" {
			msg += "Cc: <" + cc + ">\r\n"
		}
		return []byte(msg + "Subject: Re: Your invoice\r\nMessage-ID: <reply-1@mail.example.com>\r\n\r\nThanks, that helps.\r\n")
	}
	sign := func(t *testing.T, msg []byte, headerKeys ...string) []byte {
		var out bytes.Buffer
		err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
			Domain: "example.com", Selector: "sel", Signer: key.private, HeaderKeys: headerKeys,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	for _, tc := range []struct {
		name string
		msg  func(t *testing.T) []byte
		want string // "DATA 250" for delivered
	}{
		{"the reverse alias in the signed To", func(t *testing.T) []byte { return sign(t, reply(reverseAlias(), "")) }, "DATA 250"},
		{"the reverse alias in the signed Cc", func(t *testing.T) []byte { return sign(t, reply("bob@other.test", reverseAlias())) }, "DATA 250"},
		{"a signature that covers neither To nor Cc", func(t *testing.T) []byte {
			return sign(t, reply(reverseAlias(), ""), "From", "Subject", "Message-ID")
		}, "DATA " + replyRefused},
		{"the signed To names another reverse alias", func(t *testing.T) []byte {
			return sign(t, reply("r-other9@"+domain, ""))
		}, "DATA " + replyRefused},
		{"an unsigned To naming the reverse alias added above the signed To", func(t *testing.T) []byte {
			return append([]byte("To: <"+reverseAlias()+">\r\n"), sign(t, reply(original, ""))...)
		}, "DATA " + replyRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
				f.zone.setTXT("sel._domainkey.example.com", key.record)
				if got := transaction(t, f.addr, person, reverseAlias(), tc.msg(t)); got != tc.want {
					t.Errorf("reply: %s, want %s", got, tc.want)
				}
				wantSent := 0
				if tc.want == "DATA 250" {
					wantSent = 1
				}
				if n := f.out.Count(); n != wantSent {
					t.Errorf("%d messages sent, want %d", n, wantSent)
				}
			})
		})
	}
}

// TestADKIMSignatureOlderThanAWeekDoesNotAuthenticateAReply: a reply the person's mail system
// retries arrives within five days of its signature (t=); one signed more than seven days
// before is a copy sent again, and only SPF could still authenticate it.
func TestADKIMSignatureOlderThanAWeekDoesNotAuthenticateAReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		age  time.Duration
		want string
	}{{6 * 24 * time.Hour, "DATA 250"}, {8 * 24 * time.Hour, "DATA " + replyRefused}} {
		t.Run(tc.age.String(), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				key := newDKIMKey(t)
				f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
				f.zone.setTXT("sel._domainkey.example.com", key.record)
				// The signature is made now; the relay's clock runs age ahead.
				addr := startRelay(t, f, func() time.Time { return time.Now().Add(tc.age) })
				if got := transaction(t, addr, person, reverseAlias(), key.sign(t, replyMessage(person), "example.com")); got != tc.want {
					t.Errorf("a reply whose signature is %v old: %s, want %s", tc.age, got, tc.want)
				}
			})
		})
	}
}

// startRelay starts a second relay on f's database, DNS, store and next hop, whose clock is
// now, and returns its address.
func startRelay(t *testing.T, f *fixture, now func() time.Time) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(tbWriter{t}, nil))
	srv := relay.NewServer(relay.Config{Domain: domain, Hostname: "mx.relay.test", Logger: logger, KV: f.kv,
		Resolver: f.zone, Now: now}, f.db, mustSender(t, f.out.URL(), logger))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// TestAnAliasEndedAfterItsRcptIsDroppedAndTheOtherStillGetsTheMessage: of a transaction to
// two aliases, the one whose connection ended between RCPT and DATA gets nothing, and the
// other person still gets the message (250).
func TestAnAliasEndedAfterItsRcptIsDroppedAndTheOtherStillGetsTheMessage(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		for _, c := range []string{"EHLO app.example", "MAIL FROM:<>", "RCPT TO:<" + alias + ">", "RCPT TO:<" + otherAlias + ">"} {
			if got := s.cmd(c); !strings.HasPrefix(got, "250") {
				t.Fatalf("%s: %s", c, got)
			}
		}
		endConnection(t, db, f.conn.ID, connections.RemovedByPerson)
		s.cmd("DATA")
		if got := s.write([]byte("Subject: news\r\n\r\nhi\r\n.\r\n")); !strings.HasPrefix(got, "250") {
			t.Fatalf("DATA: %s, want 250 (the other alias still takes mail)", got)
		}
		if to := f.recipients(); len(to) != 1 || to[0] != "other@example.com" {
			t.Errorf("delivered to %v, want only other@example.com", to)
		}
	})
}

// TestAVerifiedAddressWithAQuotedAtSignIsNamedWithoutAnAtSign: "support@paypal.com"@evil.test
// is an address of evil.test, which the sender may well authenticate. Its From name spells
// it with the domain last and no "@" left, so no mail client shows paypal.com's address.
func TestAVerifiedAddressWithAQuotedAtSignIsNamedWithoutAnAtSign(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("evil.test", "v=spf1 ip4:127.0.0.0/8 -all")
		msg := []byte("From: PayPal <\"support@paypal.com\"@evil.test>\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
		if err := send(f.addr, "bounce@evil.test", []string{alias}, msg); err != nil {
			t.Fatalf("send: %s", smtpReply(err))
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		from, err := h.AddressList("From")
		if err != nil || len(from) != 1 {
			t.Fatalf("From: %v %v", from, err)
		}
		if want := `PayPal ("support at paypal.com" at evil.test) via LoginSign`; from[0].Name != want {
			t.Errorf("From name = %q, want %q", from[0].Name, want)
		}
	})
}
