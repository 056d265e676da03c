package relay_test

import (
	"context"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// replyTextICS is an iTIP REPLY whose free text names the person: copied from the invitation,
// added by the person's client, or typed in a COMMENT. The address stands in plain text, in a
// line folded inside it, after an escaped line break, percent-encoded in a link, as an HTML
// character reference in X-ALT-DESC, in an X- property and in parameters that name no calendar
// user; a planted guess that is not the person's, a reverse alias of the connection, and a UID.
func replyTextICS() string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:team-7@acme.test\r\n" +
		"ORGANIZER;SENT-BY=\"mailto:" + person + "\":mailto:" + reverseAlias() + "\r\n" +
		"ATTENDEE;PARTSTAT=ACCEPTED;DELEGATED-FROM=\"mailto:" + person + "\";EMAIL=" + person + ":mailto:" + person + "\r\n" +
		"DESCRIPTION:Accepted by " + person + ".\\nAgenda at https://cal.test/e?u=" + strings.Replace(person, "@", "%40", 1) + "\r\n" +
		"COMMENT:Write to me at " + person[:5] + "\r\n " + person[5:] + " or to r-" + reverseToken + "@" + domain + "\r\n" +
		"LOCATION:Room 4\\n" + person + "\r\n" +
		"X-ALT-DESC;FMTTYPE=text/html:<p>" + strings.Replace(person, "@", "&#64;", 1) + " and guess@else.test</p>\r\n" +
		"X-OWNER;X-MAIL=" + person + ":account " + person + "\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
}

// TestAReplysCalendarTextNamesNoAddress: a reply's calendar part kept the text of every line
// that names no calendar user, so the person's address in a DESCRIPTION, COMMENT, LOCATION,
// X-ALT-DESC or X- property (and in parameters other than SENT-BY, DELEGATED-* and EMAIL)
// reached the contact, whatever the part's transfer encoding. Every address in that text is
// the alias now, or the contact's address for a reverse alias of the connection; the UID stays.
func TestAReplysCalendarTextNamesNoAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		ics := replyTextICS()
		var qp strings.Builder
		w := quotedprintable.NewWriter(&qp)
		w.Write([]byte(ics))
		w.Close()
		for _, enc := range []struct{ name, body string }{
			{"7bit", ics},
			{"quoted-printable", qp.String()},
			{"base64", base64.StdEncoding.EncodeToString([]byte(ics)) + "\r\n"},
		} {
			reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Accepted: Team meeting\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee you.\r\n--b\r\n" +
				"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\nContent-Transfer-Encoding: " + enc.name + "\r\n\r\n" +
				enc.body + "\r\n--b--\r\n")
			if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
				t.Fatalf("%s reply: %v", enc.name, err)
			}
			e := f.out.Next(t, 5*time.Second)
			got := string(e.Body())
			switch enc.name {
			case "quoted-printable":
				b, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(got[strings.Index(got, "quoted-printable\r\n\r\n"):])))
				got = string(b)
			case "base64":
				part := got[strings.Index(got, "base64\r\n\r\n")+len("base64\r\n\r\n"):]
				part = part[:strings.Index(part, "--b")]
				b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(part))
				if err != nil {
					t.Fatalf("base64: %v", err)
				}
				got = string(b)
			}
			got = strings.Join(unfoldICS(got), "\n")
			for _, leak := range []string{"person", "example.com", "guess@else.test"} {
				if strings.Contains(strings.ToLower(got), leak) {
					t.Errorf("%s: the reply's calendar names %q:\n%s", enc.name, leak, got)
				}
			}
			aliasHTML := strings.Replace(alias, "@", "&#64;", 1)
			for _, want := range []string{"UID:team-7@acme.test\n", "DESCRIPTION:Accepted by " + alias + ".\\nAgenda at https://cal.test/e?u=" + strings.Replace(alias, "@", "%40", 1) + "\n",
				"COMMENT:Write to me at " + alias + " or to " + original + "\n", "LOCATION:Room 4\\n" + alias + "\n",
				"<p>" + aliasHTML + " and " + alias + "</p>\n", "X-OWNER;X-MAIL=" + alias + ":account " + alias + "\n",
				"ORGANIZER;SENT-BY=\"mailto:" + alias + "\":mailto:" + original + "\n"} {
				if !strings.Contains(got, want) {
					t.Errorf("%s: the reply's calendar has no line %s\n%s", enc.name, strings.TrimSpace(want), got)
				}
			}
		}
	})
}

// TestAReplysCalendarHidesNoAddressInOddLines: lines the reply's rule passed over kept the
// person's address: a line that does not parse strictly (kept as it was, and read by lenient
// clients), a vCalendar 1.0 value in quoted-printable ("=40" for "@"), and a base64 value
// (ENCODING=BASE64). Their addresses are mapped too now; a base64 value that does not decode
// goes with its line.
func TestAReplysCalendarHidesNoAddressInOddLines(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:team-7@acme.test\r\n" +
			"ORGANIZER:mailto:" + reverseAlias() + "\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:" + person + "\r\n" +
			"COMMENT;X-NOTE=a\"b:sent by " + person + "\r\n" +
			"X-VCS-NOTE;ENCODING=QUOTED-PRINTABLE:from " + strings.Replace(person, "@", "=40", 1) + "\r\n" +
			"DESCRIPTION;ENCODING=BASE64:" + base64.StdEncoding.EncodeToString([]byte("from "+person)) + "\r\n" +
			"X-BROKEN;ENCODING=BASE64:!!not base64 " + person + "\r\n" +
			"END:VEVENT\r\nEND:VCALENDAR\r\n"
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Accepted: Team meeting\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" + ics)
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		got := strings.Join(unfoldICS(string(f.out.Next(t, 5*time.Second).Body())), "\n")
		if strings.Contains(got, person) || strings.Contains(got, strings.Replace(person, "@", "=40", 1)) ||
			strings.Contains(got, base64.StdEncoding.EncodeToString([]byte("from "+person))) {
			t.Errorf("the reply's calendar names the person:\n%s", got)
		}
		for _, want := range []string{"COMMENT;X-NOTE=a\"b:sent by " + alias + "\n", "X-VCS-NOTE;ENCODING=QUOTED-PRINTABLE:from " + strings.Replace(alias, "@", "=40", 1) + "\n",
			"DESCRIPTION;ENCODING=BASE64:" + base64.StdEncoding.EncodeToString([]byte("from "+alias)) + "\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("the reply's calendar has no line %s\n%s", strings.TrimSpace(want), got)
			}
		}
		if strings.Contains(got, "X-BROKEN") {
			t.Errorf("a base64 value that does not decode stays:\n%s", got)
		}
	})
}
