package relay_test

import (
	"encoding/base64"
	"testing"
	"time"
	"unicode/utf16"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// tnefWith stands for a winmail.dat whose message class is class, written as the legacy
// attribute does (ASCII) or as MAPI's Unicode property (UTF-16LE).
func tnefWith(class string, unicode bool) []byte {
	b := []byte{0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00, 0x01, 0x08, 0x80, 0x07, 0x00}
	if !unicode {
		return append(append(b, class...), 0)
	}
	for _, u := range utf16.Encode([]rune(class)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return append(b, 0, 0)
}

// TestForwardRefusesTNEFMeetingRequests: Outlook sends a meeting request in rich-text format
// as a winmail.dat (application/ms-tnef) instead of an iCalendar part, and the person's
// Outlook shows it with its Accept button, which answers the organizer the sender chose from
// the person's real address. The calendar walk took the part for an opaque attachment and
// forwarded it untouched; it cannot rewrite one, so a forward holding a TNEF meeting message
// is refused like an unreadable calendar part, whatever the class's encoding. A TNEF part of
// ordinary rich-text mail still goes.
func TestForwardRefusesTNEFMeetingRequests(t *testing.T) {
	t.Parallel()
	header := "From: App Bookings <" + bookings + ">\r\nTo: " + alias + "\r\nSubject: Team meeting\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nSee you\r\n--B\r\n"
	part := func(blob []byte) string {
		return "Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			wrap76(base64.StdEncoding.EncodeToString(blob)) + "--B--\r\n"
	}
	for _, tc := range []struct {
		name, body string
		refused    bool
	}{
		{name: "meeting request, Unicode class", refused: true, body: part(tnefWith("IPM.Schedule.Meeting.Request", true))},
		{name: "meeting request, legacy class", refused: true, body: part(tnefWith("IPM.Microsoft Schedule.MtgReq", false))},
		{name: "as a winmail.dat octet-stream", refused: true,
			body: "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"winmail.dat\"\r\n\r\n" +
				string(tnefWith("IPM.Schedule.Meeting.Request", false)) + "\r\n--B--\r\n"},
		{name: "rich-text mail", body: part(tnefWith("IPM.Note", true))},
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
