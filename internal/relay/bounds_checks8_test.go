package relay_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAHeaderOfAThousandFieldsIsForwardedAndOneMoreIsRefused: the bound of a header is 1,000
// fields, which real mail never reaches. A header of exactly that many, ARC-Seal fields the
// forward removes, is forwarded at once without them; one field more gets 552 5.3.4 and
// nothing is sent.
func TestAHeaderOfAThousandFieldsIsForwardedAndOneMoreIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := func(fields int) []byte {
			var b bytes.Buffer
			b.WriteString("From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n")
			for range fields - 3 {
				b.WriteString("ARC-Seal: i=1; a=rsa-sha256; cv=none; d=acme.test; s=sel; b=c2ln\r\n")
			}
			b.WriteString("\r\nhi\r\n")
			return b.Bytes()
		}
		start := time.Now()
		if err := send(f.addr, original, []string{alias}, msg(1000)); err != nil {
			t.Fatalf("a header of 1,000 fields: %s, want 250", smtpReply(err))
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("a header of 1,000 fields took %v to forward", took)
		}
		if n := f.out.Count(); n != 1 {
			t.Fatalf("%d forwards of a header of 1,000 fields, want 1", n)
		}
		if h := string(f.out.Messages()[0].Header()); strings.Contains(strings.ToLower(h), "arc-seal:") {
			t.Errorf("the forward kept the sender's ARC-Seal fields")
		}
		err := send(f.addr, original, []string{alias}, msg(1001))
		if got := smtpReply(err); got != "552 5.3.4 Message header too large: at most 1000 fields and 256 KiB" {
			t.Errorf("a header of 1,001 fields: %s, want 552 5.3.4", got)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d forwards after the header of 1,001 fields, want still 1", n)
		}
	})
}

// TestAHeaderPastItsBytesIsRefused: the bound of a header is also 256 KiB, so a few long
// fields cannot stand for many short ones.
func TestAHeaderPastItsBytesIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		var b bytes.Buffer
		b.WriteString("From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n")
		for range 300 { // 300 fields of about 1 KiB, folded in lines of 80
			b.WriteString("X-Padding: x")
			for range 12 {
				b.WriteString("\r\n " + strings.Repeat("y", 80))
			}
			b.WriteString("\r\n")
		}
		b.WriteString("\r\nhi\r\n")
		err := send(f.addr, original, []string{alias}, b.Bytes())
		if got := smtpCode(err); got != "552 5.3.4" {
			t.Errorf("a header of %d bytes in 303 fields: %s, want 552 5.3.4", b.Len(), smtpReply(err))
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages forwarded, want none", n)
		}
	})
}
