package relay_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"loginsign/ent/relaycontact"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestABounceToAReverseAliasIsRefusedAtRcpt: the null sender (a bounce of a forward, an
// automatic answer of the person's mail system) is refused at RCPT, whatever the reverse
// alias, before the message is read: no report of the person's mail system reaches a contact.
func TestABounceToAReverseAliasIsRefusedAtRcpt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		if got, want := transaction(t, f.addr, "", reverseAlias(), replyMessage(person)), "RCPT "+replyRefused; got != want {
			t.Errorf("bounce to a reverse alias = %s, want %s", got, want)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages sent, want none", n)
		}
	})
}

// TestAReverseAliasTokenLongerThanAnyIsNoMailbox: a token longer than any reverse alias's
// (64 characters) is not a reverse alias: it gets the "No such mailbox" of an unknown alias at
// RCPT, while a 64-character one is accepted there like every well-formed token.
func TestAReverseAliasTokenLongerThanAnyIsNoMailbox(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		c := dial(t, "127.0.0.1", f.addr)
		if err := c.Mail(person, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("r-"+strings.Repeat("a", 64)+"@"+domain, nil); err != nil {
			t.Errorf("RCPT of a 64-character token: %v, want accepted (decided at DATA)", err)
		}
		if got := smtpReply(c.Rcpt("r-"+strings.Repeat("a", 65)+"@"+domain, nil)); got != "550 5.1.1 No such mailbox" {
			t.Errorf("RCPT of a 65-character token: %s, want 550 5.1.1 No such mailbox", got)
		}
	})
}

// TestARecipientNamedTwiceIsServedOnce: the same alias given twice at RCPT (in any case) is one
// recipient: the person gets the mail once.
func TestARecipientNamedTwiceIsServedOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		c := dial(t, "127.0.0.1", f.addr)
		if err := c.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		for _, rcpt := range []string{alias, strings.ToUpper(alias)} {
			if err := c.Rcpt(rcpt, nil); err != nil {
				t.Fatalf("RCPT %s: %v", rcpt, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n"))
		if err := w.Close(); err != nil {
			t.Fatalf("DATA: %v", err)
		}
		if got := f.recipients(); !slices.Equal(got, []string{person}) {
			t.Errorf("forwarded to %v, want %s once", got, person)
		}
	})
}

// TestAReverseAliasTakesNoReplyFromAnotherPersonsAddress: only the addresses of the person who
// owns a reverse alias may write to it. Another account holder who learnt the reverse alias
// (from a quoted reply) and writes from their own verified address, passing DMARC for it, is
// refused like a stranger.
func TestAReverseAliasTakesNoReplyFromAnotherPersonsAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		mallory := f.newUser(t, "mallory@example.org")
		f.db.UserEmail.Create().SetUserID(mallory.ID).SetEmail("mallory@example.net").SetVerifiedAt(time.Now()).ExecX(ctx)

		err := send(f.addr, "mallory@example.net", []string{reverseAlias()}, replyMessage("<mallory@example.net>"))
		if got := smtpReply(err); got != replyRefused {
			t.Errorf("reply from another person's verified address: %s, want %s", got, replyRefused)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages sent from another person through the reverse alias, want none", n)
		}
	})
}

// TestAMessageBelowTheHopLimitIsForwarded: a message that passed the relay fewer than three
// times is no loop: with two X-LoginSign-Relay lines it is forwarded, carrying a third.
func TestAMessageBelowTheHopLimitIsForwarded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("X-LoginSign-Relay: forward\r\nX-LoginSign-Relay: reply\r\nFrom: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("a message with two relay hops: %s, want it forwarded", smtpReply(err))
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		if got := h.Values("X-Loginsign-Relay"); len(got) != 3 {
			t.Errorf("X-LoginSign-Relay = %q, want the two hops and this one", got)
		}
	})
}

// TestAReplyKeepsTheRelayHopsItCarries: the relay's own trace survives the scrub of a reply,
// so a loop through replies is counted too: a reply with two hops leaves with three, and one
// with three is refused as a loop.
func TestAReplyKeepsTheRelayHopsItCarries(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		two := append([]byte("X-LoginSign-Relay: forward\r\nX-LoginSign-Relay: forward\r\n"), replyMessage(person)...)
		if err := send(f.addr, person, []string{reverseAlias()}, two); err != nil {
			t.Fatalf("reply with two hops: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		if got := h.Values("X-Loginsign-Relay"); len(got) != 3 {
			t.Errorf("the reply's X-LoginSign-Relay = %q, want the two hops it came with and this one", got)
		}
		three := append([]byte("X-LoginSign-Relay: forward\r\n"), two...)
		if err := send(f.addr, person, []string{reverseAlias()}, three); smtpCode(err) != "554 5.4.6" {
			t.Errorf("reply with three hops: %s, want 554 5.4.6", smtpReply(err))
		}
	})
}

// TestAnotherSendersSameMessageIsNotTakenForARetry: the relay remembers the recipients it
// served of a deferred message under its envelope sender too: the same bytes from another
// envelope sender are another transaction, served to every recipient.
func TestAnotherSendersSameMessageIsNotTakenForARetry(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		msg := []byte("To: " + alias + ", " + otherAlias + "\r\nSubject: hi\r\nMessage-ID: <m3@acme.test>\r\n\r\nhi\r\n")

		f.out.FailNext(busyHop...) // the first route, the fixture's person
		if err := send(f.addr, "first@acme.test", []string{alias, otherAlias}, msg); smtpCode(err) != "451 4.4.1" {
			t.Fatalf("DATA with one forward failing for now: %s, want 451 4.4.1", smtpReply(err))
		}
		if err := send(f.addr, "second@acme.test", []string{alias, otherAlias}, msg); err != nil {
			t.Fatalf("the same message from another envelope sender: %v", err)
		}
		got := f.recipients()
		slices.Sort(got)
		if want := []string{"other@example.com", "other@example.com", person}; !slices.Equal(got, want) {
			t.Errorf("forwarded to %v, want %v: the second sender's message reaches both people", got, want)
		}
	})
}

// TestAForwardMasksAtMostFiftyParticipants: one forward gives at most 50 of the addresses it
// names a reverse alias (the others are dropped from the forward), so a single mail cannot
// fill the connection's contacts with hundreds of addresses.
func TestAForwardMasksAtMostFiftyParticipants(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		var cc []string
		for i := range 60 {
			cc = append(cc, fmt.Sprintf("p%d@acme.test", i))
		}
		msg := []byte("From: " + original + "\r\nTo: " + alias + "\r\nCc: " + strings.Join(cc, ", ") + "\r\nSubject: hi\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		list, _ := h.AddressList("Cc")
		if len(list) != 50 {
			t.Errorf("the forward's Cc names %d addresses, want 50", len(list))
		}
		n := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).CountX(context.Background())
		if n != 51 {
			t.Errorf("the forward made %d reverse aliases, want 51 (the sender and 50 participants)", n)
		}
	})
}

// TestARefusedReplySpendsNothingOfTheReplyLimit: a reply refused for what it carries (an
// attached message) is refused before it is counted: the person's next reply still fits a
// limit of one.
func TestARefusedReplySpendsNothingOfTheReplyLimit(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{replyLimit: 1})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		attached := []byte("From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: message/rfc822\r\n\r\nFrom: someone@example.org\r\nSubject: x\r\n\r\nhi\r\n")
		for range 2 {
			if err := send(f.addr, person, []string{reverseAlias()}, attached); smtpReply(err) != replyContentRefused {
				t.Fatalf("reply with an attached message: %s, want %s", smtpReply(err), replyContentRefused)
			}
		}
		if err := send(f.addr, person, []string{reverseAlias()}, replyMessage(person)); err != nil {
			t.Errorf("the first reply that may leave, after two refused for their content: %s, want it sent", smtpReply(err))
		}
	})
}

// TestTheReplyLimitIsEachPersons: one person's replies do not spend another's budget.
func TestTheReplyLimitIsEachPersons(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{replyLimit: 2})
		ctx := context.Background()
		other := f.newUser(t, "other@example.net")
		otherConn := f.newConnection(t, other, "o1o2o3@"+domain)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken("tok1").ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("b@acme.test").SetToken("tok2").ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(otherConn.ID).SetContactAddress(original).SetToken("tok3").ExecX(ctx)

		if err := send(f.addr, person, []string{"r-tok1@" + domain, "r-tok2@" + domain}, replyMessage(person)); err != nil {
			t.Fatalf("the person's reply to two contacts: %v", err)
		}
		if err := send(f.addr, "other@example.net", []string{"r-tok3@" + domain}, replyMessage("other@example.net")); err != nil {
			t.Errorf("another person's first reply of the day: %s, want it sent", smtpReply(err))
		}
	})
}

// TestAMessageHasAtMostFiftyRecipients: past 50 RCPT TO in one transaction the relay answers
// 452 4.5.3, so one message costs a bounded amount of delivery work.
func TestAMessageHasAtMostFiftyRecipients(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		c := dial(t, "127.0.0.1", f.addr)
		if err := c.Mail(original, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if err := c.Rcpt(alias, nil); err != nil {
				t.Fatalf("RCPT %d: %v", i+1, err)
			}
		}
		if got := smtpCode(c.Rcpt(alias, nil)); got != "452 4.5.3" {
			t.Errorf("RCPT 51: %s, want 452 4.5.3", got)
		}
	})
}
