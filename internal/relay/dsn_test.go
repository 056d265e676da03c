package relay_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-smtp"

	"loginsign/internal/mail/mailtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// userUnknown is a next hop's permanent refusal of the person's real address, naming it as
// real servers do.
var userUnknown = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + person + ">: User unknown"}

// TestAPermanentFailureOfOneRecipientIsReportedToTheSender: a message to two aliases whose
// forward to the first person is refused for good is accepted (the other person got it), and
// its sender, authorized by SPF, gets a delivery status notification from the null reverse
// path that names the alias, never the person's address or the next hop's reply. A sender
// SPF does not authorize, a bounce and a sender on the relay domain get none.
func TestAPermanentFailureOfOneRecipientIsReportedToTheSender(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		otherAlias := "o1o2o3@" + domain
		f.newConnection(t, f.newUser(t, "other@example.com"), otherAlias)
		f.zone.setTXT(domain, "v=spf1 ip4:127.0.0.0/8 -all")
		msg := func(id string) []byte {
			return []byte("From: " + original + "\r\nTo: " + alias + ", " + otherAlias + "\r\nSubject: hi\r\nMessage-ID: <" +
				id + "@acme.test>\r\n\r\nhi\r\n")
		}

		f.out.FailNext(userUnknown) // the first route, the fixture's person
		if err := send(f.addr, original, []string{alias, otherAlias}, msg("m1")); err != nil {
			t.Fatalf("DATA with the forward to one of two people refused for good: %s, want 250", smtpReply(err))
		}
		got := f.out.Wait(t, 2)
		if len(got[0].To) != 1 || got[0].To[0] != "other@example.com" {
			t.Fatalf("first message went to %v, want the other person's forward", got[0].To)
		}
		dsn := got[1]
		if dsn.From != "" || len(dsn.To) != 1 || dsn.To[0] != original {
			t.Fatalf("notification: MAIL FROM <%s>, RCPT %v; want the null reverse path to %s", dsn.From, dsn.To, original)
		}
		parts := reportParts(t, dsn)
		if len(parts) != 3 {
			t.Fatalf("notification has %d parts, want 3 (text, delivery status, original header)", len(parts))
		}
		status := parts["message/delivery-status"]
		for _, want := range []string{"Reporting-MTA: dns; mx.relay.test", "Final-Recipient: rfc822; " + alias, "Action: failed", "Status: 5.0.0"} {
			if !strings.Contains(status, want) {
				t.Errorf("delivery status lacks %q:\n%s", want, status)
			}
		}
		if strings.Contains(status, otherAlias) || strings.Contains(parts["text/plain"], otherAlias) {
			t.Errorf("the notification reports the alias that was served:\n%s\n%s", parts["text/plain"], status)
		}
		if !strings.Contains(parts["text/plain"], alias) {
			t.Errorf("the text does not name the alias:\n%s", parts["text/plain"])
		}
		if !strings.Contains(parts["text/rfc822-headers"], "Message-ID: <m1@acme.test>") {
			t.Errorf("the returned header lacks the message's id:\n%s", parts["text/rfc822-headers"])
		}
		for _, secret := range []string{person, "User unknown", "5.1.1"} {
			if bytes.Contains(bytes.ToLower(dsn.Data), []byte(strings.ToLower(secret))) {
				t.Errorf("the notification shows %q:\n%s", secret, dsn.Data)
			}
		}

		for _, c := range []struct{ name, from string }{
			{"a sender SPF does not authorize", "someone@nospf.test"},
			{"a bounce", ""},
			{"a sender on the relay domain", "someone@" + domain},
		} {
			before := f.out.Count()
			f.out.FailNext(userUnknown)
			if err := send(f.addr, c.from, []string{alias, otherAlias}, msg(strings.ReplaceAll(c.name, " ", "-"))); err != nil {
				t.Fatalf("%s: DATA = %s, want 250", c.name, smtpReply(err))
			}
			all := f.out.Wait(t, before+1)
			if n := len(all) - before; n != 1 || all[before].To[0] != "other@example.com" {
				t.Errorf("%s: the next hop got %d messages, the first to %v; want only the other person's forward", c.name, n, all[before].To)
			}
		}
		// Each case's forward was written before the case looked; a notification, the last
		// thing written, would have arrived with the next case's forward or now.
		if err := send(f.addr, original, []string{otherAlias}, msg("last")); err != nil {
			t.Fatal(err)
		}
		if all := f.out.Wait(t, 6); len(all) != 6 {
			t.Errorf("the next hop got %d messages, want 6 (four forwards to the other person, one notification, the last forward)", len(all))
		}
	})
}

// reportParts returns the parts of the multipart/report e by content type.
func reportParts(tb testing.TB, e mailtest.Envelope) map[string]string {
	tb.Helper()
	m, err := gomessage.Read(bytes.NewReader(e.Data))
	if err != nil {
		tb.Fatalf("reading the notification: %v", err)
	}
	if ct, params, _ := m.Header.ContentType(); ct != "multipart/report" || params["report-type"] != "delivery-status" {
		tb.Fatalf("notification Content-Type %s %v, want multipart/report; report-type=delivery-status", ct, params)
	}
	if m.Header.Get("Auto-Submitted") != "auto-replied" {
		tb.Errorf("Auto-Submitted = %q, want auto-replied", m.Header.Get("Auto-Submitted"))
	}
	parts := map[string]string{}
	mr := m.MultipartReader()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			tb.Fatalf("reading the notification's parts: %v", err)
		}
		ct, _, _ := p.Header.ContentType()
		body, err := io.ReadAll(p.Body)
		if err != nil {
			tb.Fatal(err)
		}
		parts[ct] = string(body)
	}
	return parts
}
