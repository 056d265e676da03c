package relay_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestReplyRefusesDetachedSignatures: a reply the person's client signed (multipart/signed)
// names the person's key even when no address of theirs is in it: an OpenPGP signature
// carries the issuer's fingerprint, which keys.openpgp.org answers with the key's user ids,
// and an S/MIME signature carries the signer's certificate, name and address (here an address
// LoginSign does not know). Either is refused like an encrypted reply, whatever it holds; the
// same reply unsigned goes to the contact.
func TestReplyRefusesDetachedSignatures(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\nMIME-Version: 1.0\r\n"
	// A version 4 signature packet (tag 2) with an Issuer Fingerprint subpacket (33) only.
	fingerprint := []byte{0x89, 0x00, 0x1a, 0x04, 0x00, 0x01, 0x08, 0x00, 0x16, 0x15, 0x21, 0x04,
		0x3c, 0x1e, 0x9a, 0x52, 0x88, 0x40, 0x7d, 0x11, 0x6b, 0xd2, 0x0f, 0x99, 0xa3, 0x5e, 0x47, 0x02, 0xc1, 0x8b, 0x6e, 0x30}
	pgp := "-----BEGIN PGP SIGNATURE-----\r\n\r\n" + wrap76(base64.StdEncoding.EncodeToString(fingerprint)) + "=AbCd\r\n-----END PGP SIGNATURE-----\r\n"
	certificate := "0\x82\x01\x0a1\x1c0\x1a\x06\x03U\x04\x03\x0c\x13Pat Example\x06\x09*\x86H\x86\xf7\r\x01\x09\x01\x16\x13pat@work.example.org"
	for _, tc := range []struct {
		name, body string
		refused    bool
	}{
		{name: "OpenPGP", refused: true, body: "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"S\"\r\n\r\n" +
			"--S\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
			"--S\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n" + pgp + "--S--\r\n"},
		{name: "S/MIME", refused: true, body: "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"S\"\r\n\r\n" +
			"--S\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
			"--S\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			wrap76(base64.StdEncoding.EncodeToString([]byte(certificate))) + "--S--\r\n"},
		{name: "S/MIME, older type", refused: true, body: "Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; boundary=\"S\"\r\n\r\n" +
			"--S\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
			"--S\r\nContent-Type: application/x-pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			wrap76(base64.StdEncoding.EncodeToString([]byte(certificate))) + "--S--\r\n"},
		{name: "unsigned", body: "Content-Type: text/plain\r\n\r\nThanks\r\n"},
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
