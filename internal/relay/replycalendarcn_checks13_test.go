package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplysCalendarNamesThePersonInNoCN: Outlook names the sender of a meeting message sent
// on someone's behalf in X-MS-OLK-SENDER, a "mailto:" value with a CN, which like an
// ATTENDEE's is the person's name or, without one, their address. The reply turned its value
// into the alias but kept its CN, the person's real address; it keeps only the parameters an
// ORGANIZER keeps now. Parameters of lines that name no calendar user stay.
func TestAReplysCalendarNamesThePersonInNoCN(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:team-7@acme.test\r\n" +
			"ORGANIZER;CN=Acme:mailto:" + reverseAlias() + "\r\n" +
			"ATTENDEE;PARTSTAT=ACCEPTED;CN=" + person + ":mailto:" + person + "\r\n" +
			"X-MS-OLK-SENDER;CN=\"" + person + "\":mailto:" + person + "\r\n" +
			"LOCATION;LANGUAGE=en:Room 4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Accepted: Team meeting\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" + ics)
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		got := strings.Join(unfoldICS(string(f.out.Next(t, 5*time.Second).Body())), "\n")
		if strings.Contains(got, person) {
			t.Errorf("the reply's calendar names the person's address:\n%s", got)
		}
		for _, want := range []string{"X-MS-OLK-SENDER:mailto:" + alias + "\n", "LOCATION;LANGUAGE=en:Room 4\n",
			"ORGANIZER:mailto:" + original + "\n", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + alias + "\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("the reply's calendar has no line %s\n%s", strings.TrimSpace(want), got)
			}
		}
	})
}
