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

// opaqueSMIME is an application/pkcs7-mime part (RFC 8551 section 3.5.2, opaque signed-data,
// or enveloped-data) whose content holds inner, as a mail client unwraps it and shows it. The
// bytes stand for the DER (or BER, whose constructed OCTET STRING may cut the content into
// chunks of any size) around the inner MIME entity.
func opaqueSMIME(smimeType, inner string) string {
	der := append([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x24, 0x80, 0x04, 0x82, 0x01, 0x00}, inner...)
	return "Content-Type: application/pkcs7-mime; smime-type=" + smimeType + "; name=\"smime.p7m\"\r\n" +
		"Content-Disposition: attachment; filename=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrap76(base64.StdEncoding.EncodeToString(der))
}

// TestForwardRefusesOpaqueSMIME: an opaque-signed S/MIME message carries its MIME tree inside
// the signature's structure, which Outlook, Apple Mail and Thunderbird unwrap and show; the
// relay's calendar walk saw one opaque leaf, so an invitation inside went to the person with
// its ORGANIZER as the sender wrote it, and "Accept" answered it from the person's real
// address. Signing needs no key of the person's. The relay cannot read inside (BER may cut
// any marker in pieces), so such a forward is refused like an unreadable calendar part; a
// detached signature (multipart/signed), whose tree the walk reads, still goes through.
func TestForwardRefusesOpaqueSMIME(t *testing.T) {
	t.Parallel()
	header := "From: App Bookings <" + bookings + ">\r\nTo: " + alias + "\r\nSubject: Your booking\r\nMIME-Version: 1.0\r\n"
	inner := "Content-Type: text/calendar; method=REQUEST\r\n\r\n" + invitation()
	for _, tc := range []struct {
		name, body string
		refused    bool
	}{
		{name: "opaque signed-data holding an invitation", refused: true, body: opaqueSMIME("signed-data", inner)},
		{name: "opaque signed-data as an attachment", refused: true,
			body: "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\n" +
				"Content-Type: application/octet-stream; name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				wrap76(base64.StdEncoding.EncodeToString([]byte(inner))) + "--B--\r\n"},
		{name: "a detached signature", body: "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"S\"\r\n\r\n" +
			"--S\r\nContent-Type: text/plain\r\n\r\nSee you\r\n--S\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--S--\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.zone.setTXT("app.test", "v=spf1 ip4:127.0.0.0/8 -all")
				err := send(f.addr, bookings, []string{alias}, []byte(header+tc.body))
				if !tc.refused {
					if err != nil {
						t.Fatalf("forward: %v", err)
					}
					f.out.Next(t, 5*time.Second)
					return
				}
				if got := smtpReply(err); got != calendarUnreadable {
					t.Errorf("forward: %s\nwant %s", got, calendarUnreadable)
				}
				if n := f.out.Count(); n != 0 {
					t.Errorf("%d messages sent, want none", n)
				}
			})
		})
	}
}

// TestReplyRefusesEncryptedParts: an encrypted reply (PGP/MIME, S/MIME enveloped-data) or an
// opaque-signed one hides its MIME tree from every check of the reply's body, while the
// contact, who supplied the key (an Autocrypt header on a forward, a certificate in a signed
// one), decrypts it and finds what the relay refuses elsewhere: the person's signing
// certificate or key, the protected headers Thunderbird and Autocrypt clients write inside
// ("From: Pat <person@example.com>"), attached messages. It is a MIME structure the relay
// cannot read, refused like the others.
func TestReplyRefusesEncryptedParts(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\nMIME-Version: 1.0\r\n"
	protected := "Content-Type: multipart/mixed; boundary=\"P\"; protected-headers=\"v1\"\r\nFrom: Pat <" + person + ">\r\n\r\n--P\r\n" +
		"Content-Type: text/plain\r\n\r\nThanks\r\n--P--\r\n"
	for _, tc := range []struct{ name, body string }{
		{name: "PGP/MIME", body: "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"E\"\r\n\r\n" +
			"--E\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n" +
			"--E\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n" +
			wrap76(base64.StdEncoding.EncodeToString([]byte(protected))) + "-----END PGP MESSAGE-----\r\n--E--\r\n"},
		// Encrypted: nothing of the plaintext shows in the bytes the relay sees.
		{name: "S/MIME enveloped-data", body: opaqueSMIME("enveloped-data", "\x8f\x1c\xe2\x07\x55\xa9\x3b\xd0\x91\x6e\x2f\xc4")},
		// Signed only, in BER: a constructed OCTET STRING cuts the content in chunks, here
		// within the address, so no byte string of the part spells it.
		{name: "S/MIME opaque signed-data, chunked", body: opaqueSMIME("signed-data",
			protected[:strings.Index(protected, "@")]+"\x04\x82\x01\x00"+protected[strings.Index(protected, "@"):])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				err := send(f.addr, person, []string{reverseAlias()}, []byte(header+tc.body))
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
