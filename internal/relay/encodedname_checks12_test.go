package relay_test

import (
	"encoding/base64"
	"mime"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A sender's name, or the local part of its address, may hold text in the syntax of an RFC
// 2047 encoded word: "=?utf-8?q?PayPal_=28service_at_paypal.com=29_via_LoginSign?=" (sent
// encoded once more, so the relay's own decoding leaves that text). The relay's checks look at
// the text as it is, find neither parentheses nor "via LoginSign", and write it into the
// forward's From name, where mail programs that decode encoded words inside a quoted name
// (Thunderbird, Gmail) show "PayPal (service at paypal.com) via LoginSign (me at evil.test)
// via LoginSign". No encoded word may reach the From name the relay writes.
func TestASendersNameCannotCarryAnEncodedWordIntoTheForward(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("evil.test", "v=spf1 ip4:127.0.0.0/8 -all") // the attacker's own domain: verified
		inner := "=?utf-8?q?PayPal_=28service_at_paypal.com=29_via_LoginSign?="
		for _, from := range []string{
			"=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(inner)) + "?= <me@evil.test>",
			"<" + inner + "@evil.test>",
		} {
			msg := []byte("From: " + from + "\r\nTo: " + alias + "\r\nSubject: Your account is limited\r\n\r\nPlease sign in.\r\n")
			if err := send(f.addr, "bounce@evil.test", []string{alias}, msg); err != nil {
				t.Fatalf("send: %s", smtpReply(err))
			}
			h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
			got, err := h.AddressList("From")
			if err != nil || len(got) != 1 {
				t.Fatalf("From: %v %v", got, err)
			}
			shown, _ := new(mime.WordDecoder).DecodeHeader(got[0].Name) // as such a mail program reads it
			if strings.Contains(got[0].Name, "=?") || strings.Count(shown, "via LoginSign") != 1 {
				t.Errorf("From %s: the forward's From name %q reads %q", from, got[0].Name, shown)
			}
		}
	})
}
