package relay_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"loginsign/ent"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/relay"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// busyHop is the next hop's answer that fails one outbound message: the outbound sender
// tries three times (mustSender's RetryDelays).
var busyHop = []*smtp.SMTPError{
	{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy"},
	{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy"},
	{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy"},
}

// recipients are the envelope recipients of every message the next hop took, in order.
func (f *fixture) recipients() []string {
	var to []string
	for _, e := range f.out.Messages() {
		to = append(to, e.To...)
	}
	return to
}

// TestAForwardThatFailsForOneRecipientIsRetriedForThatOneOnly: a message to two aliases
// whose forward to the first person fails for now is deferred (451), not accepted with that
// person's mail lost, and the sender's retry of the same message reaches that person without
// forwarding it to the other person a second time.
func TestAForwardThatFailsForOneRecipientIsRetriedForThatOneOnly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		msg := []byte("From: " + original + "\r\nTo: " + alias + ", " + otherAlias + "\r\nSubject: hi\r\nMessage-ID: <m2@acme.test>\r\n\r\nhi\r\n")

		f.out.FailNext(busyHop...) // the first route, the fixture's person
		if err := send(f.addr, original, []string{alias, otherAlias}, msg); smtpCode(err) != "451 4.4.1" {
			t.Fatalf("DATA with the forward to one of two people failing for now: %s, want 451 4.4.1 (the sender retries)", smtpReply(err))
		}
		if err := send(f.addr, original, []string{alias, otherAlias}, msg); err != nil {
			t.Fatalf("the sender's retry: %v", err)
		}
		got := f.recipients()
		slices.Sort(got)
		if want := []string{"other@example.com", person}; !slices.Equal(got, want) {
			t.Errorf("forwarded to %v, want each person once: %v", got, want)
		}
	})
}

// TestAReplyThatFailsForOneContactIsRetriedForThatOneOnly: the person's reply to two
// contacts, whose copy to the first fails for now, is deferred, and the retry reaches that
// contact without writing to the other twice; every copy leaves from the alias.
func TestAReplyThatFailsForOneContactIsRetriedForThatOneOnly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("billing@acme.test").SetToken("tok456").ExecX(ctx)
		second := "r-tok456@" + domain
		msg := replyMessage(person)

		f.out.FailNext(busyHop...)
		if err := send(f.addr, person, []string{reverseAlias(), second}, msg); smtpCode(err) != "451 4.4.1" {
			t.Fatalf("DATA with the reply to one of two contacts failing for now: %s, want 451 4.4.1", smtpReply(err))
		}
		if err := send(f.addr, person, []string{reverseAlias(), second}, msg); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		got := f.recipients()
		slices.Sort(got)
		if want := []string{"billing@acme.test", original}; !slices.Equal(got, want) {
			t.Errorf("replied to %v, want each contact once: %v", got, want)
		}
		for _, e := range f.out.Messages() {
			if e.From != alias {
				t.Errorf("a reply left with envelope sender %q, want the alias", e.From)
			}
		}
	})
}

// TestAForwardWhoseReverseAliasCannotBeWrittenIsDeferred: a database failure while the relay
// makes the sender's reverse alias is the relay's own, as at RCPT: the sender is told to try
// again (451), not that the mail cannot be delivered (554, a bounce and the mail lost), and
// the retry forwards it.
func TestAForwardWhoseReverseAliasCannotBeWrittenIsDeferred(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		var fail atomic.Bool
		f.db.RelayContact.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if m.Op().Is(ent.OpCreate) && fail.CompareAndSwap(true, false) {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		})
		msg := []byte("From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")

		fail.Store(true)
		if err := send(f.addr, original, []string{alias}, msg); smtpCode(err) != "451 4.4.1" {
			t.Fatalf("DATA with the reverse alias failing to be written: %s, want 451 4.4.1", smtpReply(err))
		}
		if fail.Load() {
			t.Fatal("the fault was not injected")
		}
		if n := f.out.Count(); n != 0 {
			t.Fatalf("%d messages forwarded without a reverse alias, want none", n)
		}
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("the sender's retry: %v", err)
		}
		if got := f.recipients(); !slices.Equal(got, []string{person}) {
			t.Errorf("forwarded to %v, want %s once", got, person)
		}
	})
}

// TestAMessageWhoseEarlierDeliveriesCannotBeReadIsDeferred: when Redis cannot tell which
// recipients of a message to several an earlier try served, nothing is sent and the sender is
// told to try again; the retry serves each recipient once.
func TestAMessageWhoseEarlierDeliveriesCannotBeReadIsDeferred(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		fault := kvtest.InjectFaults(t, f.kv)
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		msg := []byte("From: " + original + "\r\nTo: " + alias + ", " + otherAlias + "\r\nSubject: hi\r\n\r\nhi\r\n")

		fault.Arm("", "relay:sent:", 1)
		if err := send(f.addr, original, []string{alias, otherAlias}, msg); smtpCode(err) != "451 4.3.0" {
			t.Fatalf("DATA with the earlier deliveries unreadable: %s, want 451 4.3.0", smtpReply(err))
		}
		if fault.Injected() != 1 {
			t.Fatal("the fault was not injected")
		}
		if n := f.out.Count(); n != 0 {
			t.Fatalf("%d messages sent, want none", n)
		}
		if err := send(f.addr, original, []string{alias, otherAlias}, msg); err != nil {
			t.Fatalf("the sender's retry: %v", err)
		}
		got := f.recipients()
		slices.Sort(got)
		if want := []string{"other@example.com", person}; !slices.Equal(got, want) {
			t.Errorf("forwarded to %v, want each person once: %v", got, want)
		}
	})
}

// TestAMessageServedWholeLeavesNothingToRemember: the relay remembers the recipients it
// served only for a message it deferred (451), the one a sender retries: a message to several
// people served whole leaves no key, or anyone who may write to two masked addresses would
// pile one up per recipient for five days.
func TestAMessageServedWholeLeavesNothingToRemember(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		msg := []byte("From: " + original + "\r\nTo: " + alias + ", " + otherAlias + "\r\nSubject: hi\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias, otherAlias}, msg); err != nil {
			t.Fatal(err)
		}
		remembered := func(msg []byte) int64 {
			t.Helper()
			n, err := f.kv.Exists(context.Background(), relay.SentKeys(original, []string{alias, otherAlias}, msg)...).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := remembered(msg); n != 0 {
			t.Fatalf("after a message served whole the store remembers %d of its recipients, want none", n)
		}
		again := []byte(string(msg) + "again\r\n")
		f.out.FailNext(busyHop...)
		if err := send(f.addr, original, []string{alias, otherAlias}, again); smtpCode(err) != "451 4.4.1" {
			t.Fatalf("DATA with one forward failing for now: %s, want 451 4.4.1", smtpReply(err))
		}
		if n := remembered(again); n != 1 {
			t.Fatalf("after a deferred message the store remembers %d of its recipients, want the one served", n)
		}
	})
}
