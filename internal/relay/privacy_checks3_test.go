package relay_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestReplyDropsKeptFieldsNamingThePersonInAnyForm: a field a reply keeps (Content-*) that
// names one of the person's addresses goes, whether it names it plainly, percent-encoded or
// inside an RFC 2047 encoded word, and whether the address is the primary or the one the
// person shared with the app. A field naming someone else stays.
func TestReplyDropsKeptFieldsNamingThePersonInAnyForm(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.AppConnection.UpdateOne(f.conn).SetAppEmail("shared@example.org").ExecX(ctx)
		reply := []byte("From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\n" +
			"Content-Description: plain " + person + "\r\n" +
			"Content-Id: <part1.person%40example.com>\r\n" +
			"Content-Location: =?utf-8?q?person=40example=2Ecom?=\r\n" +
			"Content-Language: shared@example.org\r\n" +
			"Content-Disposition: inline; filename=\"notes-from-colleague@example.org.txt\"\r\n" +
			"\r\nThanks\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		h := parseHeader(t, e.Data)
		for _, k := range []string{"Content-Description", "Content-Id", "Content-Location", "Content-Language"} {
			if h.Has(k) {
				t.Errorf("%s naming the person was kept: %q", k, h.Get(k))
			}
		}
		if !h.Has("Content-Disposition") {
			t.Error("Content-Disposition naming someone else was removed, want it kept")
		}
		for _, leak := range []string{"person", "shared@"} {
			if bytes.Contains(bytes.ToLower(e.Header()), []byte(leak)) {
				t.Errorf("reply header reveals %q:\n%s", leak, e.Header())
			}
		}
	})
}

// TestForwardKeepsOnlyTheRelaysXOriginalFrom: X-Original-From of a forward is the relay's
// record of the From header; one the sender wrote is removed, or it could show the person
// another author than the one the relay checked.
func TestForwardKeepsOnlyTheRelaysXOriginalFrom(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("X-Original-From: Bank <security@bank.test>\r\nFrom: \"Acme Support\" <" + original + ">\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		if got := h.Values("X-Original-From"); len(got) != 1 || got[0] != `"Acme Support" <`+original+`>` {
			t.Errorf("X-Original-From = %q, want only the message's From", got)
		}
	})
}

// TestForwardEncodesEveryMessageIDOnTheRelayDomain: a forward carries the ids of In-Reply-To
// and References, as those of Message-ID, in the relay's fwd- form, so that the person's
// reply, which keeps only ids of that form, still threads under the sender's mails.
func TestForwardEncodesEveryMessageIDOnTheRelayDomain(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("From: " + original + "\r\nTo: " + alias + "\r\nSubject: Re: order\r\nMessage-ID: <m3@acme.test>\r\n" +
			"In-Reply-To: <m2@acme.test>\r\nReferences: <m1@acme.test> <m2@acme.test>\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		for k, want := range map[string]string{
			"Message-Id":  "<" + forwardID("m3@acme.test") + ">",
			"In-Reply-To": "<" + forwardID("m2@acme.test") + ">",
			"References":  "<" + forwardID("m1@acme.test") + "> <" + forwardID("m2@acme.test") + ">",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("forward's %s = %q, want %q", k, got, want)
			}
		}
	})
}

// TestReplyKeepsOnlyMessageIDsTheRelayWrote: a reply's In-Reply-To and References keep only
// ids of the fwd- form on the relay domain, decoded back; the same form on another domain is
// not the relay's and goes, and so does one whose decoded id is not a well-formed message id
// (it would write a line break and another field into the reply's header).
func TestReplyKeepsOnlyMessageIDsTheRelayWrote(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		enc := func(id string) string {
			return "fwd-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(id)))
		}
		reply := []byte("From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: order\r\n" +
			"In-Reply-To: <" + enc("x\r\nX-Injected: yes\r\nY: <z@acme.test") + "@" + domain + ">\r\n" +
			"References: <" + forwardID("m1@acme.test") + "> <" + enc("planted@other.test") + "@other.test>\r\n" +
			"\r\nThanks\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		h := parseHeader(t, e.Data)
		if h.Has("X-Injected") || h.Has("In-Reply-To") || bytes.Contains(e.Header(), []byte("Injected")) {
			t.Errorf("a decoded id that is not a message id was kept:\n%s", e.Header())
		}
		if got := h.Get("References"); got != "<m1@acme.test>" {
			t.Errorf("References = %q, want only <m1@acme.test>, the id the relay wrote", got)
		}
	})
}

// TestReplyRefusesMoreMIMEPartsThanItReads: a reply whose MIME tree has more than 200 parts is
// refused, flat as well as deep: the relay does not read past that, and a mail client might
// still show what it did not read.
func TestReplyRefusesMoreMIMEPartsThanItReads(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		body := func(parts int) []byte {
			var b strings.Builder
			b.WriteString("From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n")
			for range parts {
				b.WriteString("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n")
			}
			b.WriteString("--B--\r\n")
			return []byte(b.String())
		}
		if err := send(f.addr, person, []string{reverseAlias()}, body(199)); err != nil {
			t.Fatalf("reply of 200 parts: %s, want it sent", smtpReply(err))
		}
		if got := smtpReply(send(f.addr, person, []string{reverseAlias()}, body(200))); got != replyContentRefused {
			t.Errorf("reply of 201 parts: %s, want %s", got, replyContentRefused)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d messages sent, want 1", n)
		}
	})
}

// TestReplyRefusesAnOpenPGPSignatureNamingThePerson and a multipart that does not parse: an
// OpenPGP signature part can carry the signer's user id, the person's address; a part the
// relay cannot read may still be shown by a mail client.
func TestReplyRefusesAnOpenPGPSignatureNamingThePersonOrAnUnreadableMultipart(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re\r\nMIME-Version: 1.0\r\n"
	for _, tc := range []struct{ name, body string }{
		{"OpenPGP signature naming the person",
			"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"S\"\r\n\r\n" +
				"--S\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
				"--S\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n" + pgpKey("Pat <"+person+">") + "--S--\r\n"},
		{"a part whose header does not parse",
			"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
				"--B\r\nthis line is no header field\r\n\r\nx\r\n--B--\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				if got := smtpReply(send(f.addr, person, []string{reverseAlias()}, []byte(header+tc.body))); got != replyContentRefused {
					t.Errorf("reply: %s, want %s", got, replyContentRefused)
				}
				if n := f.out.Count(); n != 0 {
					t.Errorf("%d messages sent, want none", n)
				}
			})
		})
	}
}
