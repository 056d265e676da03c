package relay_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"
	"unicode/utf16"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// tnefBlob stands for a winmail.dat as Outlook writes it: the TNEF signature and key, then an
// attribute holding the sender's address, here in UTF-16LE as MAPI's Unicode properties
// (PR_SENDER_EMAIL_ADDRESS_W) write it.
func tnefBlob(address string) []byte {
	b := []byte{0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00, 0x01, 0x06, 0x90, 0x08, 0x00}
	for _, u := range utf16.Encode([]rune(address)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return append(b, 0, 0)
}

// TestReplyRefusesTNEF: Outlook sends rich-text mail with a winmail.dat part
// (application/ms-tnef) carrying the message's MAPI properties, the sender's address among
// them: in a reply that is the person's real address, which the contact's Outlook or Apple
// Mail reads from it. The relay passed the part on untouched, the address in UTF-16 where no
// byte search finds it; a reply holding one is refused now, whatever type it claims, and the
// same reply with an ordinary attachment still goes.
func TestReplyRefusesTNEF(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThanks\r\n--B\r\n"
	blob := wrap76(base64.StdEncoding.EncodeToString(tnefBlob(person)))
	for _, tc := range []struct {
		name, part string
		refused    bool
	}{
		{name: "application/ms-tnef", refused: true,
			part: "Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + blob},
		{name: "application/vnd.ms-tnef", refused: true,
			part: "Content-Type: application/vnd.ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n" + blob},
		{name: "winmail.dat as octet-stream", refused: true,
			part: "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"WINMAIL.DAT\"\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n" + blob},
		{name: "an ordinary attachment",
			part: "Content-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				wrap76(base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 invoice")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				err := send(f.addr, person, []string{reverseAlias()}, []byte(header+tc.part+"--B--\r\n"))
				if !tc.refused {
					if err != nil {
						t.Fatalf("reply: %v", err)
					}
					f.out.Next(t, 5*time.Second)
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
