package relay_test

import (
	"context"
	"encoding/base64"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestReplyRefusesInlinePGP: a client that signs inline (Mailvelope, K-9 Mail, Enigmail's
// inline mode) writes the person's text as an OpenPGP cleartext signature, whose signature
// carries the issuer fingerprint of the person's key (keyservers answer it with the key's
// user ids, the person's address). A detached signature part was refused, the same signature
// inline went to the contact. A text part that starts with a signed or encrypted OpenPGP
// message is refused now, also quoted-printable and after blank lines; a signed message of
// someone else's that the person quotes below their text, or with "> ", still goes.
func TestReplyRefusesInlinePGP(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\nMIME-Version: 1.0\r\n"
	// A version 4 signature packet (tag 2) with an Issuer Fingerprint subpacket (33) only.
	fingerprint := []byte{0x89, 0x00, 0x1a, 0x04, 0x00, 0x01, 0x08, 0x00, 0x16, 0x15, 0x21, 0x04,
		0x3c, 0x1e, 0x9a, 0x52, 0x88, 0x40, 0x7d, 0x11, 0x6b, 0xd2, 0x0f, 0x99, 0xa3, 0x5e, 0x47, 0x02, 0xc1, 0x8b, 0x6e, 0x30}
	signature := "-----BEGIN PGP SIGNATURE-----\r\n\r\n" + wrap76(base64.StdEncoding.EncodeToString(fingerprint)) + "=AbCd\r\n-----END PGP SIGNATURE-----\r\n"
	signed := "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nThanks, that helps.\r\n" + signature
	var qp strings.Builder
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(signed))
	w.Close()
	for _, tc := range []struct {
		name, body string
		refused    bool
	}{
		{name: "cleartext signature", refused: true, body: "Content-Type: text/plain; charset=utf-8\r\n\r\n" + signed},
		{name: "no Content-Type, after blank lines", refused: true, body: "\r\n\r\n\r\n" + signed},
		{name: "quoted-printable, in an alternative", refused: true,
			body: "Content-Type: multipart/alternative; boundary=\"A\"\r\n\r\n--A\r\nContent-Type: text/plain\r\n" +
				"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n--A\r\nContent-Type: text/html\r\n\r\n<p>Thanks</p>\r\n--A--\r\n"},
		{name: "signed and encrypted inline", refused: true,
			body: "Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n" + wrap76(base64.StdEncoding.EncodeToString(fingerprint)) + "-----END PGP MESSAGE-----\r\n"},
		{name: "someone's signed message quoted below", body: "Content-Type: text/plain\r\n\r\nThanks, that helps.\r\n\r\n" +
			"-----Original Message-----\r\nFrom: App Billing\r\n\r\n" + signed},
		{name: "someone's signed message quoted with >", body: "Content-Type: text/plain\r\n\r\n> " +
			strings.ReplaceAll(strings.TrimSuffix(signed, "\r\n"), "\r\n", "\r\n> ") + "\r\n\r\nThanks\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				err := send(f.addr, person, []string{reverseAlias()}, []byte(header+tc.body))
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
