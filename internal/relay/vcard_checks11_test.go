package relay_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestReplyRefusesOwnContactCard: a mail client can attach the person's own contact card to
// every message they send (Thunderbird's "Attach my vCard to messages", Outlook's business
// card in a signature); its EMAIL line is the person's real address. A reply carrying a
// vCard that names one of the person's addresses (also folded across lines, base64-encoded,
// or under another type with a .vcf name) is refused like a key naming them; someone
// else's card goes through.
func TestReplyRefusesOwnContactCard(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\nMIME-Version: 1.0\r\n"
	mixed := func(part string) string {
		return "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
			"--B\r\n" + part + "--B--\r\n"
	}
	card := func(email string) string {
		return "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Pat\r\nEMAIL;PREF=1:" + email + "\r\nEND:VCARD\r\n"
	}
	// Thunderbird folds a vCard line at 75 octets, which may cut the address.
	folded := "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Pat\r\nEMAIL;TYPE=work;PREF=1;X-LONG-PARAMETER=padding-padding-pad:person@exam\r\n ple.com\r\nEND:VCARD\r\n"
	for _, tc := range []struct {
		name, body string
		delivered  bool
	}{
		{name: "the person's vCard",
			body: mixed("Content-Type: text/vcard; charset=utf-8; name=\"pat.vcf\"\r\nContent-Disposition: attachment; filename=\"pat.vcf\"\r\n\r\n" + card(person))},
		{name: "the person's vCard, base64",
			body: mixed("Content-Type: text/x-vcard; name=\"pat.vcf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				wrap76(base64.StdEncoding.EncodeToString([]byte(card(strings.ToUpper(person))))))},
		{name: "the person's vCard, folded", body: mixed("Content-Type: text/vcard\r\n\r\n" + folded)},
		{name: "the person's vCard as an octet stream named .vcf",
			body: mixed("Content-Type: application/octet-stream; name=\"pat.vcf\"\r\n\r\n" + card(person))},
		// A text part named .vcf is read as a card: the inline OpenPGP check of text parts
		// (stop 61) read its body first and left the card check nothing to read.
		{name: "the person's vCard as text/plain named .vcf",
			body: mixed("Content-Type: text/plain; charset=utf-8; name=\"pat.vcf\"\r\n\r\n" + card(person))},
		{name: "someone else's vCard", delivered: true,
			body: mixed("Content-Type: text/vcard; name=\"sam.vcf\"\r\n\r\n" + card("someone@example.org"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				err := send(f.addr, person, []string{reverseAlias()}, []byte(header+tc.body))
				if tc.delivered {
					if err != nil {
						t.Fatalf("reply: %v", err)
					}
					if e := f.out.Next(t, 5*time.Second); e.To[0] != original {
						t.Errorf("reply went to %v, want %s", e.To, original)
					}
					return
				}
				if got := smtpReply(err); got != replyContentRefused {
					t.Errorf("reply: %s, want %s", got, replyContentRefused)
				}
				if n := f.out.Count(); n != 0 {
					t.Errorf("%d messages sent, want none", n)
				}
			})
		})
	}
}
