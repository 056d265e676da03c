package relay_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplysCalendarCostsAFewStatements: a reply's calendar parts turn the reverse aliases of
// its connection back into their contacts' addresses; each was looked up alone, a statement
// per attendee, 50 a message and again for every reverse alias of the transaction. They are
// looked up together now; the attendees that are the connection's reverse aliases still name
// their contacts, and the others the alias.
func TestAReplysCalendarCostsAFewStatements(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var n atomic.Int64
		f := newFixture(t, countingDB(db, &n), fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("colleague@acme.test").SetToken("mycctok").ExecX(ctx)
		lines := []string{"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:r-mycctok@" + domain}
		for i := range 48 {
			lines = append(lines, fmt.Sprintf("ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:r-made%d@%s", i, domain))
		}
		ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:team-7@example.com\r\n" +
			"ORGANIZER:mailto:" + person + "\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Team meeting\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n" + ics)
		before := n.Load()
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		ran := n.Load() - before
		t.Logf("%d statements", ran)
		if ran > 25 {
			t.Errorf("the reply ran %d statements, want a handful whatever the number of attendees", ran)
		}
		got := strings.Join(unfoldICS(string(e.Body())), "\n")
		if !strings.Contains(got, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:colleague@acme.test\n") {
			t.Errorf("the connection's reverse alias is not its contact's address again:\n%s", got)
		}
		if c := strings.Count(got, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:"+alias+"\n"); c != 48 {
			t.Errorf("%d made-up reverse aliases became the alias, want 48:\n%s", c, got)
		}
		if strings.Contains(got, "r-") || strings.Contains(got, person) {
			t.Errorf("the reply's calendar names a reverse alias or the person:\n%s", got)
		}
	})
}
