package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplyTellsNotWhenItsFilesWereMade19: a reply's Date is written in UTC so that it does
// not tell the person's time zone, but the Content-Disposition of an attachment kept the
// creation-date, modification-date and read-date (RFC 2183) a mail client writes from the file
// on the person's computer, in the offset of their time zone ("+0100"), in a part and in the
// top-level header of a reply of one part. Those parameters go now; the file's name and size
// stay.
func TestAReplyTellsNotWhenItsFilesWereMade19(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		dated := `attachment; filename="scan.pdf"; size=3; creation-date="Tue, 01 Dec 2026 09:14:00 +0100";` +
			"\r\n" + ` modification-date="Wed, 02 Dec 2026 17:30:00 +0100"; READ-DATE="Thu, 03 Dec 2026 08:00:00 +0100"`
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: the scan\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nattached\r\n" +
			"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: " + dated + "\r\n\r\npdf\r\n--b--\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		raw := f.out.Next(t, 5*time.Second).Data
		if strings.Contains(string(raw), "+0100") || strings.Contains(strings.ToLower(string(raw)), "-date") {
			t.Errorf("the reply dates the person's file in their time zone:\n%s", raw)
		}
		got := replyPartHeaders(t, raw)
		if len(got) != 2 {
			t.Fatalf("the reply has %d parts, want 2:\n%s", len(got), raw)
		}
		if d := got[1].Get("Content-Disposition"); !strings.Contains(d, "scan.pdf") || !strings.Contains(d, "size=3") {
			t.Errorf("the attachment's Content-Disposition became %q, want its name and size kept", d)
		}

		single := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: one file\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: application/pdf\r\nContent-Disposition: " + dated + "\r\n\r\npdf\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, single); err != nil {
			t.Fatalf("reply: %v", err)
		}
		raw = f.out.Next(t, 5*time.Second).Data
		h := parseHeader(t, raw)
		if d := h.Get("Content-Disposition"); strings.Contains(d, "+0100") || !strings.Contains(d, "scan.pdf") {
			t.Errorf("a reply of one part has Content-Disposition %q, want its name without the file's dates", d)
		}
	})
}
