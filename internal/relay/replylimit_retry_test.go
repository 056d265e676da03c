package relay_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestARetriedReplyCountsEachContactOnce: the person's reply to two contacts, deferred (451)
// three times because one contact's server is busy, spends two of the day's replies, not two
// a try: the retry counts only the contacts not served yet, and a deferred try gives back the
// count of those it left for the retry. The budget left afterwards is exactly the rest.
func TestARetriedReplyCountsEachContactOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{replyLimit: 4})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("billing@acme.test").SetToken("tok456").ExecX(ctx)
		second := "r-tok456@" + domain

		msg := replyMessage(person)
		for try := range 3 {
			f.out.FailNext(busyHop...) // the first contact's copy
			if err := send(f.addr, person, []string{reverseAlias(), second}, msg); smtpCode(err) != "451 4.4.1" {
				t.Fatalf("try %d with the first contact's server busy: %s, want 451 4.4.1", try+1, smtpReply(err))
			}
		}
		if err := send(f.addr, person, []string{reverseAlias(), second}, msg); err != nil {
			t.Fatalf("the retry once the server is back: %s, want it sent", smtpReply(err))
		}
		got := f.recipients()
		slices.Sort(got)
		if want := []string{"billing@acme.test", original}; !slices.Equal(got, want) {
			t.Fatalf("replied to %v, want each contact once: %v", got, want)
		}

		// Two of four spent: a reply to both contacts fits, one more does not.
		other := bytes.ReplaceAll(msg, []byte("<reply-1@"), []byte("<reply-2@"))
		if err := send(f.addr, person, []string{reverseAlias(), second}, other); err != nil {
			t.Fatalf("another reply to both contacts with two of four replies left: %s, want it sent", smtpReply(err))
		}
		third := bytes.ReplaceAll(msg, []byte("<reply-1@"), []byte("<reply-3@"))
		if err := send(f.addr, person, []string{second}, third); smtpCode(err) != "450 4.7.1" {
			t.Fatalf("a fifth reply with a limit of four: %s, want 450 4.7.1", smtpReply(err))
		}
	})
}
