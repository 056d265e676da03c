package relay_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestReplyAnswersPlantedGuessesAlike: a sender who wants to test a guess of the person's
// address plants it where the person's mail client copies it into a reply: the Subject, the
// Message-ID and References (which become In-Reply-To and References), a Cc entry (which
// "reply all" writes to), a Thread-Topic. The sender's copy of the person's reply is the same,
// but for the guess itself, whether the guess is the person's address or not.
func TestReplyAnswersPlantedGuessesAlike(t *testing.T) {
	t.Parallel()
	for _, place := range []string{"Subject", "Message-ID", "References", "Cc", "Thread-Topic"} {
		t.Run(place, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				wrong := f.sendersCopyOfReplyAll(t, place, "wrong.guess@example.com")
				right := f.sendersCopyOfReplyAll(t, place, person)
				if wrong != right {
					t.Errorf("the sender's copy of the reply tells a right guess in %s from a wrong one:\nwrong guess:\n%s\nright guess:\n%s",
						place, wrong, right)
				}
			})
		})
	}
}

// sendersCopyOfReplyAll mails the alias from the fixture's sender with guess planted in place,
// answers the forward as the person's client does with "reply all", and returns the header
// of the sender's copy of the reply with guess written GUESS, without Date and Message-Id.
func (f *fixture) sendersCopyOfReplyAll(t *testing.T, place, guess string) string {
	t.Helper()
	fields := map[string]string{
		"From":       `"Acme Support" <` + original + `>`,
		"To":         alias,
		"Subject":    "Your order",
		"Message-ID": "<m1@acme.test>",
	}
	switch place {
	case "Subject":
		fields[place] = "Your order for " + guess
	case "Message-ID", "References":
		fields[place] = "<" + guess + ">"
	case "Cc":
		fields[place] = "bob@acme.test, " + guess
	default:
		fields[place] = guess
	}
	var forward strings.Builder
	for k, v := range fields {
		forward.WriteString(k + ": " + v + "\r\n")
	}
	forward.WriteString("\r\nHello\r\n")
	before := f.out.Count()
	if err := send(f.addr, original, []string{alias}, []byte(forward.String())); err != nil {
		t.Fatalf("forward: %v", err)
	}
	fw := parseHeader(t, f.out.Wait(t, before+1)[before].Data)

	// Reply all: to the Reply-To, copying every other participant but the alias into Cc.
	replyTo, _ := fw.AddressList("Reply-To")
	rcpts := []string{replyTo[0].Address}
	for _, k := range []string{"To", "Cc"} {
		list, _ := fw.AddressList(k)
		for _, a := range list {
			if a.Address != alias {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	reply := "From: " + person + "\r\nTo: " + rcpts[0] + "\r\n"
	if len(rcpts) > 1 {
		reply += "Cc: " + strings.Join(rcpts[1:], ", ") + "\r\n"
	}
	if topic := fw.Get("Thread-Topic"); topic != "" {
		reply += "Thread-Topic: " + topic + "\r\n"
	}
	reply += "Subject: Re: " + fw.Get("Subject") + "\r\n" +
		"In-Reply-To: " + fw.Get("Message-Id") + "\r\n" +
		"References: " + strings.TrimSpace(fw.Get("References")+" "+fw.Get("Message-Id")) + "\r\n" +
		"\r\nThanks\r\n"
	before = f.out.Count()
	if err := send(f.addr, person, rcpts, []byte(reply)); err != nil {
		t.Fatalf("reply all: %v", err)
	}
	for _, e := range f.out.Wait(t, before+len(rcpts))[before:] {
		if e.To[0] != original {
			continue
		}
		var out []string
		h := parseHeader(t, e.Data)
		for field := h.Fields(); field.Next(); {
			if k := field.Key(); k != "Date" && k != "Message-Id" {
				out = append(out, k+": "+field.Value())
			}
		}
		return regexp.MustCompile("(?i)"+regexp.QuoteMeta(guess)).ReplaceAllString(strings.Join(out, "\n"), "GUESS")
	}
	t.Fatalf("no reply reached %s", original)
	return ""
}

// TestReplyKeepsOnlyTheFieldsOfTheMessage: the person's mail system adds fields that name its
// provider, domain and network, and no list of them is ever complete. A reply keeps only
// Subject, Date (written in UTC), MIME-Version, Content-*, Cc and Auto-Submitted of the
// person's header, and In-Reply-To and References holding only the message ids of forwards,
// as their senders wrote them; the relay writes From, To and Message-ID.
func TestReplyKeepsOnlyTheFieldsOfTheMessage(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		reply := []byte("From: Pat <" + person + ">\r\n" +
			"To: " + reverseAlias() + "\r\n" +
			"Date: Mon, 1 Jan 2024 10:00:00 -0800\r\n" +
			"Message-ID: <second-1@example.com>\r\n" +
			"In-Reply-To: <" + forwardID("m2@acme.test") + ">\r\n" +
			"References: <" + forwardID("m1@acme.test") + "> <first-1@example.com>\r\n" +
			"\t<" + strings.ToUpper(forwardID("m2@acme.test")) + "> <CAJ+x1@mail.gmail.com> <r-unknown@relay.test> <fwd-!!@relay.test>\r\n" +
			"X-Received: by 2002:a17:906:abcd:: with SMTP id x1mr123; Mon, 1 Jan 2024 10:00:00 -0800 (PST)\r\n" +
			"X-Google-Smtp-Source: AGHT+IE\r\n" +
			"X-Gm-Message-State: AOJu0Yw\r\n" +
			"X-Google-DKIM-Signature: v=1; a=rsa-sha256; d=1e100.net; s=20230601; h=to:subject:from; b=abc\r\n" +
			"X-MS-Exchange-CrossTenant-Id: 72f988bf-86f1-41af-91ab-2d7cd011db47\r\n" +
			"X-MS-Exchange-CrossTenant-AuthSource: DM6PR11MB1234.namprd11.prod.outlook.com\r\n" +
			"Thread-Index: AQHaAbCdEf==\r\n" +
			"Thread-Topic: Your invoice\r\n" +
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1\r\n" +
			"X-Mailer: Apple Mail (2.3774)\r\n" +
			"X-Source-IP: 198.51.100.23\r\nX-Client-IP: 198.51.100.23\r\nX-Forwarded-For: 198.51.100.23\r\nX-Sender-IP: 198.51.100.23\r\n" +
			"X-Delivered-To: person+relay@example.com\r\n" +
			"Subject: Re: Your invoice\r\n" +
			"Auto-Submitted: no\r\n" +
			"MIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n" +
			"Content-Transfer-Encoding: 8bit\r\n" +
			"\r\nThanks\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		h := parseHeader(t, e.Data)

		var keys []string
		for field := h.Fields(); field.Next(); {
			keys = append(keys, field.Key())
		}
		slices.Sort(keys)
		want := []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "In-Reply-To",
			"Message-Id", "Mime-Version", "References", "Subject", "To", "X-Loginsign-Relay"}
		if !slices.Equal(keys, want) {
			t.Errorf("reply fields = %v, want %v", keys, want)
		}
		for key, want := range map[string]string{
			"Date":        "Mon, 01 Jan 2024 18:00:00 +0000",
			"In-Reply-To": "<m2@acme.test>",
			"References":  "<m1@acme.test> <m2@acme.test>",
			"Subject":     "Re: Your invoice",
		} {
			if got := h.Get(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		for _, leak := range []string{"example.com", "gmail", "outlook", "198.51.100.23", "Thunderbird", "Apple", "-0800"} {
			if bytes.Contains(bytes.ToLower(e.Header()), bytes.ToLower([]byte(leak))) {
				t.Errorf("reply header reveals %q:\n%s", leak, e.Header())
			}
		}
	})
}

// replyContentRefused is the answer to an authenticated reply that carries what would show
// the contact the person's address or mail system.
const replyContentRefused = "550 5.7.1 Reply refused: a reverse alias does not pass on attached messages, " +
	"delivery or read reports, message headers, keys or certificates naming your address, signatures (send unsigned), or MIME structures it cannot read"

// TestReplyRefusesReportsAttachedMessagesAndOwnKeys: read receipts (their Final-Recipient is
// the person's address), delivery reports, attached or forwarded messages and message headers
// (Delivered-To, Received of the person's mailbox) never reach a contact, whatever they hold;
// S/MIME certificates and OpenPGP keys do not when they name one of the person's addresses
// (only the person's client writes those, so no sender can plant a guess there).
func TestReplyRefusesReportsAttachedMessagesAndOwnKeys(t *testing.T) {
	t.Parallel()
	header := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Re: Your invoice\r\nMIME-Version: 1.0\r\n"
	mixed := func(parts ...string) string {
		out := "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThanks\r\n"
		for _, p := range parts {
			out += "--B\r\n" + p
		}
		return out + "--B--\r\n"
	}
	attachedHeader := "Delivered-To: " + person + "\r\nReceived: by mx.example.com for <" + person + ">\r\nFrom: Acme <" + reverseAlias() + ">\r\nSubject: Your invoice\r\n"
	nested := "Content-Type: text/plain\r\n\r\nThanks\r\n"
	for i := range 12 {
		b := "N" + string(rune('a'+i))
		nested = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n" + nested + "--" + b + "--\r\n"
	}
	for _, tc := range []struct {
		name, body string
		delivered  bool
	}{
		{name: "a reply with an attachment", delivered: true,
			body: mixed("Content-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n")},
		{name: "read receipt",
			body: "Content-Type: multipart/report; report-type=disposition-notification; boundary=\"B\"\r\n\r\n" +
				"--B\r\nContent-Type: text/plain\r\n\r\nThe message was displayed.\r\n" +
				"--B\r\nContent-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822;" + person + "\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n" +
				"--B--\r\n"},
		{name: "delivery report inside a mixed part",
			body: mixed("Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nx\r\n--R--\r\n")},
		{name: "attached message", body: mixed("Content-Type: message/rfc822\r\n\r\n" + attachedHeader + "\r\nHello\r\n")},
		{name: "attached internationalized message", body: mixed("Content-Type: message/global\r\n\r\n" + attachedHeader + "\r\nHello\r\n")},
		{name: "headers of a message", body: mixed("Content-Type: text/rfc822-headers\r\n\r\n" + attachedHeader)},
		{name: "digest", body: "Content-Type: multipart/digest; boundary=\"D\"\r\n\r\n--D\r\n\r\n" + attachedHeader + "\r\nHello\r\n--D--\r\n"},
		{name: "a message as the whole reply", body: "Content-Type: message/rfc822\r\n\r\n" + attachedHeader + "\r\nHello\r\n"},
		{name: "S/MIME signature with the person's certificate",
			body: signed("application/pkcs7-signature", certificate(t, person))},
		{name: "S/MIME signature with the certificate of an unverified alternative address, other case",
			body: signed("application/x-pkcs7-signature", certificate(t, "PENDING@Example.NET"))},
		// The person's client signs with the person's certificate, for an address LoginSign
		// may not know (a work address): it names them all the same (since stop 60).
		{name: "S/MIME signature with a certificate of another address",
			body: signed("application/pkcs7-signature", certificate(t, "someone@example.org"))},
		{name: "OpenPGP key of the person",
			body: mixed("Content-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n" + pgpKey("Pat <"+person+">"))},
		{name: "OpenPGP key of someone else", delivered: true,
			body: mixed("Content-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n" + pgpKey("Sam <someone@example.org>"))},
		{name: "a tree too deep", body: nested},
		{name: "a multipart without its boundary", body: "Content-Type: multipart/mixed\r\n\r\n--B\r\n\r\nx\r\n--B--\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
				f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("pending@example.net").ExecX(context.Background())
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

// signed is the body of an S/MIME signed reply (RFC 8551) whose signature part, of type
// signatureType, holds der.
func signed(signatureType string, der []byte) string {
	return "Content-Type: multipart/signed; protocol=\"" + signatureType + "\"; micalg=sha-256; boundary=\"S\"\r\n\r\n" +
		"--S\r\nContent-Type: text/plain\r\n\r\nThanks\r\n" +
		"--S\r\nContent-Type: " + signatureType + "; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrap76(base64.StdEncoding.EncodeToString(der)) + "--S--\r\n"
}

// certificate is a self-signed certificate for email, as an S/MIME signature carries it.
func certificate(tb testing.TB, email string) []byte {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Pat"}, EmailAddresses: []string{email},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// pgpKey is an ASCII-armored OpenPGP block (RFC 4880) holding one user id packet of uid.
func pgpKey(uid string) string {
	packet := append([]byte{0xb4, byte(len(uid))}, uid...)
	return "-----BEGIN PGP PUBLIC KEY BLOCK-----\r\nComment: test\r\n\r\n" + wrap76(base64.StdEncoding.EncodeToString(packet)) +
		"=AbCd\r\n-----END PGP PUBLIC KEY BLOCK-----\r\n"
}

// wrap76 cuts s into CRLF-ended lines of 76 characters.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}
