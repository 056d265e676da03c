package relay_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent/relaycontact"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAForwardsCalendarParticipantsCostAFewStatements: a forward gives every ORGANIZER,
// ATTENDEE and calendar-user address of an invitation a reverse alias, as it does its To and Cc;
// those were made together (participantMasker.prepare), the calendar's one by one: two
// statements per attendee, four to six at the contact limit, 50 a message and 50 aliases a
// transaction, for anyone who can send mail. An invitation with 50 new attendees, again with
// the same 50, and with 50 other ones at the contact limit each run a handful of statements
// now, and every ATTENDEE still names its own address's reverse alias.
func TestAForwardsCalendarParticipantsCostAFewStatements(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var n atomic.Int64
		f := newFixture(t, countingDB(db, &n), fixtureOptions{contactLimit: 60})
		f.zone.setTXT("app.test", "v=spf1 ip4:127.0.0.0/8 -all")
		ctx := context.Background()
		guests := func(prefix string) []string {
			var out []string
			for i := range 47 { // and the invitation's ORGANIZER, its SENT-BY and a stylist: 50
				out = append(out, fmt.Sprintf("%s%02d@acme.test", prefix, i))
			}
			return out
		}
		for _, round := range []struct {
			name      string
			addresses []string
		}{
			{"50 new participants", guests("guest")},
			{"the same 50 again", guests("guest")},
			{"50 other ones at the contact limit", guests("other")},
		} {
			var lines []string
			for _, a := range round.addresses {
				lines = append(lines, "ATTENDEE;CN=Guest;PARTSTAT=NEEDS-ACTION:mailto:"+a)
			}
			msg := []byte("From: App Bookings <" + bookings + ">\r\nTo: " + alias + "\r\nSubject: Team meeting\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n" + invitation(lines...))
			before := n.Load()
			if err := send(f.addr, bookings, []string{alias}, msg); err != nil {
				t.Fatalf("%s: forward: %v", round.name, err)
			}
			e := f.out.Next(t, 5*time.Second)
			ran := n.Load() - before
			t.Logf("%s: %d statements", round.name, ran)
			if ran > 40 {
				t.Errorf("%s: the forward ran %d statements, want a handful whatever the number of attendees", round.name, ran)
			}
			ics := strings.Join(unfoldICS(string(e.Body())), "\n")
			for _, a := range round.addresses {
				c, err := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID), relaycontact.ContactAddress(a)).Only(ctx)
				if err != nil {
					t.Errorf("%s: no reverse alias of %s: %v", round.name, a, err)
					continue
				}
				if want := "ATTENDEE;CN=Guest;PARTSTAT=NEEDS-ACTION:mailto:r-" + c.Token + "@" + domain; !strings.Contains(ics, want) {
					t.Errorf("%s: the invitation has no line %s", round.name, want)
				}
				if strings.Contains(ics, a) {
					t.Errorf("%s: the invitation still names %s", round.name, a)
				}
			}
		}
		if held := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).CountX(ctx); held > 60 {
			t.Errorf("the connection holds %d reverse aliases, want at most its limit of 60", held)
		}
	})
}
