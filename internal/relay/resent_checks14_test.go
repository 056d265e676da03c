package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// resentBlock is a resent block (RFC 5322 section 3.6.6) as a client's "Redirect" or
// "Bounce" writes it, naming who resent the message.
func resentBlock(who string) string {
	return "Resent-Date: Sat, 5 Dec 2026 10:00:00 +0100\r\nResent-From: Security Team <" + who + ">\r\n" +
		"Resent-Sender: <" + who + ">\r\nResent-To: <" + alias + ">\r\nresent-cc: <" + who + ">\r\n" +
		"Resent-Bcc: <" + who + ">\r\nResent-Message-ID: <resent.1@" + who[strings.Index(who, "@")+1:] + ">\r\n"
}

// TestForwardCarriesNoResentFields: a forward kept the sender's resent fields, which Sender ID
// (RFC 4407) takes for the responsible address, checked and shown as "… on behalf of": any
// sender could have the person's copy appear resent by an address the relay never checked.
// The forward is the relay's own message (its From a reverse alias, Sender removed), so they
// go, in any case of the field name.
func TestForwardCarriesNoResentFields(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := "From: Support <" + original + ">\r\nTo: <" + alias + ">\r\n" + resentBlock("security@bank.test") +
			"Subject: Your account\r\nMessage-ID: <m1@acme.test>\r\n\r\nHello\r\n"
		if err := send(f.addr, "bounce@acme.test", []string{alias}, []byte(msg)); err != nil {
			t.Fatalf("send: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		if h := strings.ToLower(string(e.Header())); strings.Contains(h, "resent-") || strings.Contains(h, "bank.test") {
			t.Errorf("the forward keeps resent fields:\n%s", e.Header())
		}
	})
}

// TestAReplyCarriesNoResentFields: a person who redirects or bounces a message of their own to
// a reverse alias adds a resent block naming their real address; none of it reaches the
// contact (scrubReply keeps only its own list of fields).
func TestAReplyCarriesNoResentFields(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		msg := "From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\n" + resentBlock(person) +
			"Subject: Re: Your account\r\n\r\nThanks\r\n"
		if err := send(f.addr, person, []string{reverseAlias()}, []byte(msg)); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		if h := strings.ToLower(string(e.Header())); strings.Contains(h, "resent-") || strings.Contains(h, "example.com") {
			t.Errorf("the reply keeps resent fields:\n%s", e.Header())
		}
	})
}
