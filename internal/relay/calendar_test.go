package relay_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"

	"loginsign/ent/relaycontact"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// bookings is the booking app that mails the person's alias an invitation.
const bookings = "bookings@app.test"

// invitation is an iTIP REQUEST (RFC 5546) of bookings to the alias and a stylist, with the
// ORGANIZER folded inside its SENT-BY parameter and inside its address (RFC 5545 section 3.1),
// and attendees named extra.
func invitation(extra ...string) string {
	ics := "BEGIN:VCALENDAR\r\n" +
		"PRODID:-//App//Bookings 1.0//EN\r\n" +
		"VERSION:2.0\r\n" +
		"METHOD:REQUEST\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:booking-42@app.test\r\n" +
		"DTSTAMP:20260301T090000Z\r\n" +
		"DTSTART:20260310T140000Z\r\n" +
		"DTEND:20260310T150000Z\r\n" +
		"SUMMARY:Haircut at Zoë's café\r\n" +
		"DESCRIPTION:Questions? Write to bookings@app.test.\\nSee you soon.\r\n" +
		"ORGANIZER;CN=\"App Bookings, Front Desk\";SENT-BY=\"mailto:desk@app.t\r\n est\":mailto:bookings@ap\r\n p.test\r\n" +
		"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\r\n TRUE;CN=Pat:mailto:" + alias + "\r\n" +
		"ATTENDEE;ROLE=OPT-PARTICIPANT;CN=Stylist;DIR=\"https://app.test/staff/7\":MAILTO:Stylist@App.test\r\n"
	for _, a := range extra {
		ics += a + "\r\n"
	}
	return ics + "END:VEVENT\r\nEND:VCALENDAR\r\n"
}

// invitationMail is a mail of bookings to the alias as booking apps send them: a
// multipart/alternative with a text part and the invitation as a quoted-printable
// text/calendar part, in a multipart/mixed with the invitation again as a base64
// application/ics attachment. kept are the bytes of its body outside the two calendar parts'
// bodies, in order.
func invitationMail(ics string) (msg []byte, kept []string) {
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(ics))
	w.Close()
	header := "From: App Bookings <" + bookings + ">\r\n" +
		"To: " + alias + "\r\n" +
		"Subject: Your booking\r\n" +
		"Message-ID: <booking-42-mail@app.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"MIXED\"\r\n\r\n"
	kept = []string{
		"This is a multi-part message in MIME format.\r\n" +
			"--MIXED\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n" +
			"--ALT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			"You have a booking, Zoë.\r\nMail bookings@app.test with questions.\r\n" +
			"--ALT\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
		"\r\n--ALT--\r\n" +
			"--MIXED\r\nContent-Type: application/ics; name=\"invite.ics\"\r\n" +
			"Content-Disposition: attachment; filename=\"invite.ics\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		"--MIXED--\r\n",
	}
	body := kept[0] + qp.String() + kept[1] + wrap76(base64.StdEncoding.EncodeToString([]byte(ics))) + kept[2]
	return []byte(header + body), kept
}

// calendarParts returns the decoded text/calendar and application/ics parts of a mail.
func calendarParts(tb testing.TB, data []byte) []string {
	tb.Helper()
	e, err := gomessage.Read(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("parsing message: %v", err)
	}
	var out []string
	err = e.Walk(func(_ []int, part *gomessage.Entity, err error) error {
		if err != nil {
			return err
		}
		if t, _, _ := part.Header.ContentType(); t == "text/calendar" || t == "application/ics" {
			b, err := io.ReadAll(part.Body)
			if err != nil {
				return err
			}
			out = append(out, string(b))
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walking message: %v", err)
	}
	return out
}

// unfoldICS returns the content lines of ics, unfolded.
func unfoldICS(ics string) []string {
	return strings.Split(strings.TrimSuffix(regexp.MustCompile(`\r?\n[ \t]`).ReplaceAllString(ics, ""), "\r\n"), "\r\n")
}

// calAddressPattern finds the "mailto:" addresses of a content line.
var calAddressPattern = regexp.MustCompile(`(?i)mailto:([^";:,\s]+)`)

// TestForwardMasksCalendarAddresses: a mail client answers an invitation's ORGANIZER by
// itself (iTIP REPLY), from the person's real address. The person's copy names reverse
// aliases instead, in the ORGANIZER, its SENT-BY and every ATTENDEE but the alias, in every
// calendar part whatever its transfer encoding; the rest of each part is as it was once
// decoded, and the rest of the body byte for byte. A reply to the ORGANIZER's reverse alias
// reaches the booking app.
func TestForwardMasksCalendarAddresses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("app.test", "v=spf1 ip4:127.0.0.0/8 -all")
		ctx := context.Background()
		ics := invitation()
		msg, kept := invitationMail(ics)
		if err := send(f.addr, bookings, []string{alias}, msg); err != nil {
			t.Fatalf("forward: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)

		rest := e.Body()
		for i, k := range kept {
			j := bytes.Index(rest, []byte(k))
			if j < 0 {
				t.Fatalf("the body outside the calendar parts changed: piece %d is missing from\n%s", i, e.Body())
			}
			rest = rest[j+len(k):]
		}
		reverseOf := func(addr string) string {
			c, err := f.db.RelayContact.Query().Where(relaycontact.ContactAddress(addr), relaycontact.ConnectionID(f.conn.ID)).Only(ctx)
			if err != nil {
				t.Errorf("no reverse alias of %s: %v", addr, err)
				return "r-?@" + domain
			}
			return "r-" + c.Token + "@" + domain
		}
		want := map[string]string{
			"ORGANIZER": "ORGANIZER;CN=\"App Bookings, Front Desk\";SENT-BY=\"mailto:" + reverseOf("desk@app.test") + "\":mailto:" + reverseOf(bookings),
			"Stylist":   "ATTENDEE;ROLE=OPT-PARTICIPANT;CN=Stylist;DIR=\"https://app.test/staff/7\":MAILTO:" + reverseOf("stylist@app.test"),
		}
		parts := calendarParts(t, e.Data)
		if len(parts) != 2 {
			t.Fatalf("%d calendar parts forwarded, want 2", len(parts))
		}
		for i, part := range parts {
			got, orig := unfoldICS(part), unfoldICS(ics)
			if len(got) != len(orig) {
				t.Errorf("part %d has %d lines, want %d:\n%s", i, len(got), len(orig), part)
				continue
			}
			for j, line := range got {
				switch {
				case strings.HasPrefix(orig[j], "ORGANIZER"):
					if line != want["ORGANIZER"] {
						t.Errorf("part %d: %s\nwant %s", i, line, want["ORGANIZER"])
					}
				case strings.Contains(orig[j], "CN=Stylist"):
					if line != want["Stylist"] {
						t.Errorf("part %d: %s\nwant %s", i, line, want["Stylist"])
					}
				case line != orig[j]:
					t.Errorf("part %d changed a line that names no calendar user: %q, was %q", i, line, orig[j])
				}
				for _, m := range calAddressPattern.FindAllStringSubmatch(line, -1) {
					if a := strings.ToLower(m[1]); a != alias && !strings.HasPrefix(a, "r-") {
						t.Errorf("part %d names %s to the person's client: %s", i, m[1], line)
					}
				}
			}
			for _, l := range strings.Split(part, "\r\n") {
				if len(l) > 75 {
					t.Errorf("part %d has a line of %d octets: %q", i, len(l), l)
				}
			}
		}

		// The person's client answers the ORGANIZER: the answer reaches the app.
		reply := "From: " + person + "\r\nTo: " + reverseOf(bookings) + "\r\nSubject: Re: Your booking\r\n\r\nSee you!\r\n"
		if err := send(f.addr, person, []string{reverseOf(bookings)}, []byte(reply)); err != nil {
			t.Fatalf("reply to the ORGANIZER: %v", err)
		}
		if r := f.out.Next(t, 5*time.Second); strings.Join(r.To, ",") != bookings || r.From != alias {
			t.Errorf("reply to the ORGANIZER went %s -> %v, want %s -> %s", r.From, r.To, alias, bookings)
		}
	})
}

// itipReply is an iTIP REPLY (RFC 5546 section 3.2.3) as the person's mail client writes it
// to the ORGANIZER organizer after a click on "Accept": the person as ATTENDEE by their own
// address, which Google Calendar also writes as CN, and by Outlook's X-MS-OLK-SENDER; base64
// in a multipart/alternative.
func itipReply(organizer, attendee string) []byte {
	ics := "BEGIN:VCALENDAR\r\nPRODID:-//Client//EN\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n" +
		"UID:booking-42@app.test\r\nDTSTAMP:20260302T080000Z\r\n" +
		"ORGANIZER;CN=\"App Bookings, Front Desk\":mailto:" + organizer + "\r\n" +
		attendee + "\r\n" +
		"X-MS-OLK-SENDER:mailto:" + person + "\r\n" +
		"COMMENT:Looking forward to it\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
	return []byte("From: Pat <" + person + ">\r\nTo: " + organizer + "\r\nSubject: Accepted: Your booking\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"R\"\r\n\r\n" +
		"--R\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPat has accepted this invitation.\r\n" +
		"--R\r\nContent-Type: text/calendar; charset=UTF-8; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrap76(base64.StdEncoding.EncodeToString([]byte(ics))) + "--R--\r\n")
}

// TestCalendarReplyNamesTheAliasOnly: the ATTENDEE of an iTIP REPLY is the person, written by
// their client with their real address. Through a reverse alias it becomes the alias, the
// ORGANIZER the app's own address again, and nothing else of the calendar part names the
// person.
func TestCalendarReplyNamesTheAliasOnly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(bookings).SetToken(reverseToken).ExecX(ctx)
		f.db.UserEmail.Create().SetUserID(f.user.ID).SetEmail("alt@example.net").SetVerifiedAt(time.Now()).ExecX(ctx)
		attendee := "ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;CN=" + person + ";X-NUM-GUESTS=0;EMAIL=" + person +
			";SENT-BY=\"mailto:alt@example.net\":mailto:" + person
		if err := send(f.addr, person, []string{reverseAlias()}, itipReply(reverseAlias(), attendee)); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		if strings.Join(e.To, ",") != bookings {
			t.Fatalf("the REPLY went to %v, want %s", e.To, bookings)
		}
		parts := calendarParts(t, e.Data)
		if len(parts) != 1 {
			t.Fatalf("%d calendar parts, want 1", len(parts))
		}
		got := strings.Join(unfoldICS(parts[0]), "\n")
		for _, line := range []string{
			"ORGANIZER:mailto:" + bookings,
			"ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;SENT-BY=\"mailto:" + alias + "\":mailto:" + alias,
			"X-MS-OLK-SENDER:mailto:" + alias,
			"UID:booking-42@app.test",
			"COMMENT:Looking forward to it",
		} {
			if !strings.Contains(got, line) {
				t.Errorf("the REPLY lacks %q:\n%s", line, got)
			}
		}
		for _, leak := range []string{"example.com", "example.net"} {
			if strings.Contains(strings.ToLower(string(e.Data)), leak) || strings.Contains(got, leak) {
				t.Errorf("the REPLY names %s:\n%s", leak, got)
			}
		}
		if !bytes.Contains(e.Body(), []byte("--R\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPat has accepted this invitation.\r\n--R\r\n")) {
			t.Errorf("the text part changed:\n%s", e.Body())
		}
	})
}

// TestCalendarReplyAnswersPlantedGuessesAlike: a sender who wants to test a guess of the
// person's address plants it in the invitation's ATTENDEE list, where the person's client
// looks for the person. The sender's copy of the person's iTIP REPLY is the same, but for the
// guess itself, whether the guess is the person's address or not.
func TestCalendarReplyAnswersPlantedGuessesAlike(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("app.test", "v=spf1 ip4:127.0.0.0/8 -all")
		wrong := f.sendersCopyOfCalendarReply(t, "wrong.guess@example.com")
		right := f.sendersCopyOfCalendarReply(t, person)
		if wrong != right {
			t.Errorf("the sender's copy of the REPLY tells a right guess from a wrong one:\nwrong guess:\n%s\nright guess:\n%s", wrong, right)
		}
		if strings.Contains(right, "GUESS") || strings.Contains(right, "example.com") {
			t.Errorf("the REPLY names the person:\n%s", right)
		}
	})
}

// sendersCopyOfCalendarReply mails the alias an invitation listing guess as an attendee,
// answers it as the person's mail client does (the ATTENDEE line naming one of the account's
// addresses, params and all, else a line of its own) and returns the sender's copy of the
// REPLY, header without Date and Message-Id and calendar part decoded, with guess written
// GUESS.
func (f *fixture) sendersCopyOfCalendarReply(t *testing.T, guess string) string {
	t.Helper()
	msg, _ := invitationMail(invitation("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=" + guess + ":mailto:" + guess))
	before := f.out.Count()
	if err := send(f.addr, bookings, []string{alias}, msg); err != nil {
		t.Fatalf("forward: %v", err)
	}
	forwarded := calendarParts(t, f.out.Wait(t, before+1)[before].Data)[0]
	var organizer, attendee string
	for _, line := range unfoldICS(forwarded) {
		switch {
		case strings.HasPrefix(line, "ORGANIZER"):
			all := calAddressPattern.FindAllStringSubmatch(line, -1) // SENT-BY's, then the value
			organizer = all[len(all)-1][1]
		case strings.HasPrefix(line, "ATTENDEE") && strings.HasSuffix(strings.ToLower(line), ":mailto:"+person):
			attendee = strings.Replace(line, "PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1)
		}
	}
	if attendee == "" {
		attendee = "ATTENDEE;PARTSTAT=ACCEPTED;CN=Pat:mailto:" + person
	}
	before = f.out.Count()
	if err := send(f.addr, person, []string{organizer}, itipReply(organizer, attendee)); err != nil {
		t.Fatalf("REPLY: %v", err)
	}
	e := f.out.Wait(t, before+1)[before]
	var out []string
	h := parseHeader(t, e.Data)
	for field := h.Fields(); field.Next(); {
		if k := field.Key(); k != "Date" && k != "Message-Id" {
			out = append(out, k+": "+field.Value())
		}
	}
	out = append(out, calendarParts(t, e.Data)...)
	return regexp.MustCompile("(?i)"+regexp.QuoteMeta(guess)).ReplaceAllString(strings.Join(out, "\n"), "GUESS")
}

// calendarUnreadable is the answer to a forward holding a calendar part the relay cannot
// rewrite.
const calendarUnreadable = "550 5.6.0 Message refused: the relay forwards calendar invitations only with their addresses rewritten, " +
	"and cannot read a calendar part of this one (a text/calendar or .ics part that does not decode or is not in an ASCII-compatible " +
	"charset, or a MIME tree past 200 parts or 10 levels around one)"

// TestForwardRefusesCalendarsItCannotRewrite: passed on as it is, an invitation the relay
// cannot read would be answered from the person's real address, so the forward is refused
// with a permanent error and nothing is sent; mail without a calendar part is forwarded
// whatever its MIME tree.
func TestForwardRefusesCalendarsItCannotRewrite(t *testing.T) {
	t.Parallel()
	header := "From: App Bookings <" + bookings + ">\r\nTo: " + alias + "\r\nSubject: Your booking\r\nMIME-Version: 1.0\r\n"
	ics := invitation()
	deep := func(leaf string) string {
		body := leaf
		for i := range 12 {
			b := "N" + string(rune('a'+i))
			body = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n" + body + "--" + b + "--\r\n"
		}
		return body
	}
	for _, tc := range []struct {
		name, body string
		refused    bool
	}{
		{name: "base64 that does not decode", refused: true,
			body: "Content-Type: text/calendar; method=REQUEST\r\nContent-Transfer-Encoding: base64\r\n\r\n" + "QkVHSU4*VkNBTEVOREFS\r\n"},
		{name: "an unknown transfer encoding", refused: true,
			body: "Content-Type: text/calendar; method=REQUEST\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 invite.ics\r\n"},
		{name: "UTF-16", refused: true,
			body: "Content-Type: text/calendar; charset=utf-16; method=REQUEST\r\n\r\n" + ics},
		{name: "an .ics attachment of another type that does not decode", refused: true,
			body: "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
				"--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"Invite.ICS\"\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\nQkVHSU4*VkNBTEVOREFS\r\n--B--\r\n"},
		{name: "a calendar part past 10 levels", refused: true,
			body: deep("Content-Type: text/calendar; method=REQUEST\r\n\r\n" + ics)},
		{name: "a text part past 10 levels",
			body: deep("Content-Type: text/plain\r\n\r\nhello\r\n")},
		{name: "a multipart without a boundary and no calendar",
			body: "Content-Type: multipart/mixed\r\n\r\n--B\r\n\r\nhello\r\n--B--\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				f.zone.setTXT("app.test", "v=spf1 ip4:127.0.0.0/8 -all")
				msg := header + tc.body
				err := send(f.addr, bookings, []string{alias}, []byte(msg))
				if !tc.refused {
					if err != nil {
						t.Fatalf("forward: %v", err)
					}
					if e := f.out.Next(t, 5*time.Second); !bytes.Equal(e.Body(), []byte(msg[strings.Index(msg, "\r\n\r\n")+4:])) {
						t.Errorf("body changed:\n%s", e.Body())
					}
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

// TestCalendarAddressesShareTheParticipantCap: To, Cc and calendar parts together give at most
// 50 addresses of one forward a reverse alias; a calendar user past them goes from the
// calendar part (its line, or its parameter value), never naming their address to the
// person's client.
func TestCalendarAddressesShareTheParticipantCap(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.zone.setTXT("app.test", "v=spf1 ip4:127.0.0.0/8 -all")
		var to []string
		for i := range 48 {
			to = append(to, fmt.Sprintf("guest%d@app.test", i))
		}
		// 48 in To, then bookings (ORGANIZER) and desk (SENT-BY) make 50: the stylist is one too many.
		msg := "From: " + bookings + "\r\nTo: " + alias + ", " + strings.Join(to, ", ") + "\r\nSubject: Booking\r\n" +
			"Content-Type: text/calendar; method=REQUEST\r\n\r\n" + invitation("ATTENDEE;DELEGATED-FROM=\"mailto:guest1@app.test\",\"mailto:late@app.test\":mailto:guest2@app.test")
		if err := send(f.addr, bookings, []string{alias}, []byte(msg)); err != nil {
			t.Fatalf("forward: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		got := unfoldICS(string(e.Body()))
		for _, line := range got {
			for _, m := range calAddressPattern.FindAllStringSubmatch(line, -1) {
				if a := strings.ToLower(m[1]); a != alias && !strings.HasPrefix(a, "r-") {
					t.Errorf("the forward names %s to the person's client: %s", m[1], line)
				}
			}
			if strings.Contains(line, "CN=Stylist") {
				t.Errorf("the attendee past the cap is still there: %s", line)
			}
			if strings.Contains(line, "DELEGATED-FROM") && strings.Count(line, "mailto:") != 2 {
				t.Errorf("want guest1's reverse alias alone in DELEGATED-FROM: %s", line)
			}
		}
		if n := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).CountX(context.Background()); n != 50 {
			t.Errorf("%d reverse aliases, want 50 (the From's among them: it is the ORGANIZER)", n)
		}
	})
}

// TestReplyRefusesCalendarsItCannotRewrite: a reply whose calendar part the relay cannot read
// would carry the person's address to the contact; it is refused like other content a reverse
// alias does not pass on.
func TestReplyRefusesCalendarsItCannotRewrite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(bookings).SetToken(reverseToken).ExecX(context.Background())
		reply := "From: " + person + "\r\nTo: " + reverseAlias() + "\r\nSubject: Accepted\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/calendar; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\nQkVHSU4*VkNBTEVOREFS\r\n"
		if got := smtpReply(send(f.addr, person, []string{reverseAlias()}, []byte(reply))); got != replyContentRefused {
			t.Errorf("reply: %s, want %s", got, replyContentRefused)
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages sent, want none", n)
		}
	})
}
