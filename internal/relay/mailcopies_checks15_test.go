package relay_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestForwardDropsMailCopiesTo: Mail-Copies-To (the Usenet field Gnus also reads for mail)
// names an address a wide reply sends a copy to; Gnus's message-get-reply-headers adds it to
// the recipients of a wide reply. Kept in a forward, a sender's "Mail-Copies-To:
// spy@sender.test" had the person's wide reply go to it directly, from the person's real
// address, as Mail-Followup-To did before it was dropped. The forward removes it.
func TestForwardDropsMailCopiesTo(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("From: Sam <sam@sender.test>\r\n" +
			"To: " + alias + "\r\n" +
			"Mail-Copies-To: spy@sender.test\r\n" +
			"Subject: Hello\r\n\r\nhello\r\n")
		if err := send(f.addr, "sam@sender.test", []string{alias}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		data := f.out.Next(t, 5*time.Second).Data
		h := parseHeader(t, data)
		if h.Has("Mail-Copies-To") || strings.Contains(string(data), "spy@sender.test") {
			t.Errorf("the forward keeps Mail-Copies-To %q: a wide reply would go to it from the person's real address", h.Get("Mail-Copies-To"))
		}
	})
}
