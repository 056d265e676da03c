package relay

import (
	"bytes"
	"encoding/base64"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// nestMessages wraps the entity inner in levels attached messages, each in the transfer
// encoding enc.
func nestMessages(inner string, levels int, enc string) string {
	for range levels {
		var b bytes.Buffer
		switch enc {
		case "quoted-printable":
			w := quotedprintable.NewWriter(&b)
			w.Write([]byte(inner))
			w.Close()
		case "base64":
			s := base64.StdEncoding.EncodeToString([]byte(inner))
			for len(s) > 76 {
				b.WriteString(s[:76] + "\r\n")
				s = s[76:]
			}
			b.WriteString(s + "\r\n")
		}
		inner = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: " + enc + "\r\n\r\n" + b.String()
	}
	return inner
}

// TestNestedEncodedMessagesAreDecodedWithinABudget: the calendar walk decodes each attached
// message to look inside, and holds every level at once. Attached messages in
// quoted-printable decode to about their own size: ten nested in one another made a 12 MiB
// message cost some 300 MiB, a 25 MiB one 600 MiB, from anyone who can send mail, in each of
// the relay's 50 sessions. A walk now decodes at most maxDecodedBytes (64 MiB) of encoded
// bytes; past them the message is refused as one whose calendar parts cannot be read, and
// what it decoded stays within the budget. Three attached messages nested in base64, as
// forwards of forwards are, still pass, up to the largest message (25 MiB).
func TestNestedEncodedMessagesAreDecodedWithinABudget(t *testing.T) {
	text := func(lines int) string {
		return "Content-Type: text/plain\r\n\r\n" + strings.Repeat("just some text here\r\n", lines)
	}
	for _, tc := range []struct {
		name, raw string
		refused   bool
	}{
		{name: "ten in quoted-printable", raw: nestMessages(text(600_000), 10, "quoted-printable"), refused: true},
		{name: "three in base64, within the largest message", raw: nestMessages(text(450_000), 3, "base64")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, body, err := splitMessage([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			var reason string
			allocated := allocatedBy(func() { reason = checkCalendarsCached(h, body, newCalendarCache()) })
			if (reason != "") != tc.refused {
				t.Errorf("checkCalendars = %q, want refused %v", reason, tc.refused)
			}
			if allocated > 2*maxDecodedBytes {
				t.Errorf("walking a %d-byte message allocated %d bytes", len(tc.raw), allocated)
			}
		})
	}
}
