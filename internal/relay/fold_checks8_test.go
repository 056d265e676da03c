package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestOnlyASCIICaseFoldingNamesAnAliasOrItsOwner: an alias, a reverse alias and the owner of
// one are named in any ASCII case and in no other folding. U+212A KELVIN SIGN lower-cases to
// "k" by Unicode rules, so without this "\u212a7m2p9@relay.test" reached the alias k7m2p9, any
// "r-\u212a…" passed RCPT as a reverse alias, and a reply From "\u212aate@example.com" (which
// DMARC passes for example.com like any other local part) was taken as the owner of the
// verified address kate@example.com.
func TestOnlyASCIICaseFoldingNamesAnAliasOrItsOwner(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.newConnection(t, f.newUser(t, "other@example.net"), "k7m2p9@relay.test")
		s, _ := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		s.cmd("EHLO client.example")
		s.cmd("MAIL FROM:<" + original + ">")
		for _, tc := range []struct{ rcpt, want string }{
			{"K7M2P9@RELAY.TEST", "250 2.0.0"},
			{"\u212a7m2p9@relay.test", "550 5.1.1"},
			{"r-\u212aabc@relay.test", "550 5.1.1"},
		} {
			if got := s.cmd("RCPT TO:<" + tc.rcpt + ">"); !strings.HasPrefix(got, tc.want) {
				t.Errorf("RCPT TO:<%s>: %s, want %s", tc.rcpt, got, tc.want)
			}
		}

		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("kate@example.com").SetVerifiedAt(time.Now()).ExecX(ctx)
		if err := send(f.addr, person, []string{reverseAlias()}, replyMessage("KATE@Example.COM")); err != nil {
			t.Fatalf("a reply From the owner's verified address in capitals: %s, want 250", smtpReply(err))
		}
		err := send(f.addr, person, []string{reverseAlias()}, replyMessage("\u212aate@example.com"))
		if got := smtpReply(err); got != replyRefused {
			t.Errorf("a reply From \u212aate@example.com: %s, want %s", got, replyRefused)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d replies sent, want only the one From the owner's address", n)
		}
	})
}
