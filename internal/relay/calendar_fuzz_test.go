package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"loginsign/ent"
	"loginsign/internal/ids"
	"loginsign/internal/store/storetest"
)

// The calendar rewriting reads mail anyone on the internet can send, so its targets here take
// any bytes. Each asserts what the relay promises whatever the input: a forward names no
// calendar address but reverse aliases and the alias (read as leniently as a mail client
// might: every Content-Type and Content-Transfer-Encoding field of a part, every boundary),
// the rest of the message is as it was, a second pass changes nothing, and a reply names no
// calendar address but the alias and the contacts. `go test` runs the seeds below;
// `go test -run '^$' -fuzz FuzzForwardCalendars ./internal/relay` searches for more.

const (
	fuzzDomain = "relay.test"
	fuzzAlias  = "x9s8d7@relay.test"
	fuzzPerson = "person@example.com"
)

// fuzzICS is an invitation as booking apps write it, folded inside a parameter and an address.
const fuzzICS = "BEGIN:VCALENDAR\r\nPRODID:-//App//Bookings 1.0//EN\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n" +
	"UID:booking-42@app.test\r\nDTSTART:20260310T140000Z\r\nSUMMARY:Haircut at Zoë's café\r\n" +
	"DESCRIPTION:Questions? Write to bookings@app.test.\\nSee you soon.\r\n" +
	"ORGANIZER;CN=\"App Bookings, Front Desk\";SENT-BY=\"mailto:desk@app.t\r\n est\":mailto:bookings@ap\r\n p.test\r\n" +
	"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\r\n TRUE;CN=Pat:mailto:" + fuzzAlias + "\r\n" +
	"ATTENDEE;ROLE=OPT-PARTICIPANT;CN=Stylist;DIR=\"https://app.test/staff/7\":MAILTO:Stylist@App.test\r\n" +
	"ATTENDEE;DELEGATED-FROM=\"mailto:guest1@app.test\",\"mailto:late@app.test\":mailto:guest2@app.test\r\n" +
	"X-MS-OLK-SENDER:mailto:bookings@app.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// fuzzMessages are the seeds of the message targets: the shapes of calendar_test.go's mails
// and of the refusals it checks.
func fuzzMessages() []string {
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(fuzzICS))
	w.Close()
	b64 := wrapBase64([]byte(fuzzICS))
	top := "From: App Bookings <bookings@app.test>\r\nTo: " + fuzzAlias + "\r\nSubject: Your booking\r\nMIME-Version: 1.0\r\n"
	invitation := top + "Content-Type: multipart/mixed; boundary=\"MIXED\"\r\n\r\n" +
		"This is a multi-part message in MIME format.\r\n" +
		"--MIXED\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n" +
		"--ALT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nYou have a booking, Zoë.\r\n" +
		"--ALT\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		qp.String() + "\r\n--ALT--\r\n" +
		"--MIXED\r\nContent-Type: application/ics; name=\"invite.ics\"\r\nContent-Disposition: attachment; filename=\"invite.ics\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--MIXED--\r\n"
	attached := top + "Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n--M\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--M\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrapBase64([]byte("Subject: fwd\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n"+fuzzICS)) + "--M--\r\n"
	return []string{
		invitation,
		attached,
		top + "Content-Type: text/calendar; method=REQUEST\r\n\r\n" + fuzzICS,
		top + "Content-Type: text/calendar; method=REQUEST\r\n\r\n" + strings.ReplaceAll(fuzzICS, "\r\n", "\n"),
		top + "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"Invite.ICS\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + b64,
		top + "Content-Type: text/calendar; method=REQUEST\r\n\r\n" +
			"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nORGANIZER;CN=\"Desk:mailto:x@app.test\r\norganizer ;CN=x:mailto:y@app.test\r\n" +
			"X-ODD;A=\"b:c\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nMETHOD:reply\r\nATTENDEE:mailto:p@x.test\r\nEND:VCALENDAR",
		top + "Content-Type: text/calendar; charset=utf-16; method=REQUEST\r\n\r\n" + fuzzICS,
		top + "Content-Type: text/calendar; method=REQUEST\r\nContent-Transfer-Encoding: base64\r\n\r\nQkVHSU4*VkNBTEVOREFS\r\n",
		top + "Content-Type: multipart/mixed\r\n\r\n--B\r\n\r\nhello\r\n--B--\r\n",
		top + "Content-Type: text/plain\r\n\r\nBEGIN:VCALENDAR\r\nORGANIZER:mailto:a@b.test\r\nEND:VCALENDAR\r\n",
	}
}

// wrapBase64 is b in base64, in lines of 76 characters ending in CRLF.
func wrapBase64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

// fuzzRelay is a Server on an in-memory SQLite database, with the connection whose alias is
// fuzzAlias, for the targets that give reverse aliases. Nothing of SMTP or DNS is started.
func fuzzRelay(tb testing.TB) (*Server, *ent.AppConnection) {
	tb.Helper()
	db := storetest.SQLite(tb)
	ctx := context.Background()
	u := db.User.Create().SetEmail(fuzzPerson).SetGlobalID("AB0001").SaveX(ctx)
	app := db.Application.Create().SetOwnerID(u.ID).SetName("Acme").SetSecretHash(ids.Hash("s")).SaveX(ctx)
	conn := db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).SetAliasEmail(fuzzAlias).SaveX(ctx)
	conn.Edges.User = u
	cfg := Config{Domain: fuzzDomain, ContactLimit: DefaultContactLimit, Logger: slog.New(slog.DiscardHandler)}
	return &Server{cfg: cfg, db: db.Client}, conn
}

var (
	// lineFold is a fold as RFC 5545 section 3.1 writes it, and anyLineFold one as a lenient
	// client reads it, after any line break; anyLineBreak is any line break.
	lineFold, anyLineFold, anyLineBreak = regexp.MustCompile(`\r?\n[ \t]`), regexp.MustCompile(`(\r\n|\r|\n)[ \t]`), regexp.MustCompile(`\r\n|\r|\n`)
	// anyCharsetParam finds the charset parameters of a Content-Type value, RFC 2231 forms too.
	anyCharsetParam = regexp.MustCompile(`(?i)charset[^=]*=\s*"?([^";\s]*)`)
	// iso2022Escape is an escape sequence of ISO-2022-JP (RFC 1468) and its kin.
	iso2022Escape = regexp.MustCompile("\x1b(\\$[@AB]|\\$[()][@A-Z]|[()][@A-Z])")
)

// reverseAliasPattern is what a reverse alias on fuzzDomain looks like.
var reverseAliasPattern = regexp.MustCompile(`^r-[a-z0-9]{1,64}@` + regexp.QuoteMeta(fuzzDomain) + `$`)

// FuzzForwardCalendars: whatever a sender writes, a forward the relay does not refuse names no
// calendar address to the person's client but reverse aliases and the alias, in any part a
// client could take for a calendar; everything outside the calendar parts is as it was; and
// masking the forward again (each reverse alias standing for itself) changes nothing.
func FuzzForwardCalendars(f *testing.F) {
	for _, m := range fuzzMessages() {
		f.Add([]byte(m))
	}
	s, conn := fuzzRelay(f)
	f.Fuzz(func(t *testing.T, msg []byte) { checkForward(t, s, conn, msg) })
}

// checkForward fails t when the relay forwards msg to conn's alias naming a calendar address
// other than reverse aliases and the alias to the person's client, changing bytes outside the
// calendar parts, or in a way that a second pass changes again. A refusal passes.
func checkForward(t *testing.T, s *Server, conn *ent.AppConnection, msg []byte) {
	t.Helper()
	ctx := context.Background()
	header, body, err := splitMessage(msg)
	if err != nil || checkCalendars(header, body) != "" {
		return // deliver refuses it (errMalformed, errCalendarUnreadable)
	}
	m := s.newParticipantMasker(conn.ID, fuzzAlias, time.Now())
	out, err := maskCalendars(ctx, header, body, m)
	if err != nil {
		t.Fatalf("maskCalendars: %v", err)
	}
	allowed := func(a string) bool { return a == fuzzAlias || reverseAliasPattern.MatchString(a) }
	for _, ics := range lenientCalendars(header, out) {
		for _, a := range calendarAddresses(ics) {
			if !allowed(a) {
				t.Fatalf("the forward names %q to the person's client in\n%q\nforwarded body:\n%q", a, ics, out)
			}
		}
	}
	keptOutsideCalendars(t, header, body, out)

	again := s.newParticipantMasker(conn.ID, fuzzAlias, time.Now())
	for _, r := range m.reverse {
		again.reverse[r] = r
	}
	if twice, err := maskCalendars(ctx, header, out, again); err != nil || !bytes.Equal(twice, out) {
		t.Fatalf("a second pass changed the forward (%v):\n%q\nthen\n%q", err, out, twice)
	}
}

// Calendars that the walk did not see, or saw otherwise than mail clients do, are refused or
// masked. Before, each of these was forwarded as it came, naming bookings@app.test to the
// person's client. FuzzForwardCalendars found the attached messages (its corpus holds them as
// testdata/fuzz/FuzzForwardCalendars/eb6537e20dd4c1c7 and 1904854f14c85be1); the others
// follow from the same reading of every field and encoding a client may use.
func TestForwardCalendarsHiddenFromTheWalk(t *testing.T) {
	top := "From: bookings@app.test\r\nTo: " + fuzzAlias + "\r\nSubject: Your booking\r\nMIME-Version: 1.0\r\n"
	b64 := wrapBase64([]byte(fuzzICS))
	attached := wrapBase64([]byte("Subject: fwd\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n" + fuzzICS))
	var many strings.Builder
	for range maxMIMEParts {
		many.WriteString("--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
	}
	for _, tc := range []struct{ name, msg string }{
		{"two Content-Type fields, the first not a calendar",
			top + "Content-Type: text/plain\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n" + fuzzICS},
		{"two Content-Transfer-Encoding fields, the first 7bit",
			top + "Content-Type: text/calendar; method=REQUEST\r\nContent-Transfer-Encoding: 7bit\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n" + b64},
		{"an attached message whose base64 does not decode in the end",
			top + "Content-Type: multipart/mixed; boundary=M\r\n\r\n--M\r\nContent-Type: message/rfc822\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n" + attached[:600] + "*\r\n--M--\r\n"},
		{"an attached message past 200 parts",
			top + "Content-Type: multipart/mixed; boundary=B\r\n\r\n" + many.String() +
				"--B\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" + attached + "--B--\r\n"},
		{"a multipart whose Content-Type does not parse, holding an attached message",
			top + "Content-Type: multipart/; boundary=M\r\n\r\n--M\r\nContent-Type: message/rfc822\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n" + attached + "--M--\r\n"},
		{"a quoted-printable multipart spelling text/calendar in escapes",
			top + "Content-Type: multipart/mixed; boundary=M\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"--M\r\nContent-Type: text/=63alendar; method=REQUEST\r\n\r\n" +
				strings.ReplaceAll(strings.ReplaceAll(fuzzICS, "=", "=3D"), "CALENDAR", "=43ALENDAR") + "--M--\r\n"},
		{"an attached message/news, the old name of message/rfc822",
			top + "Content-Type: multipart/mixed; boundary=M\r\n\r\n--M\r\nContent-Type: message/news\r\n\r\n" +
				"Subject: fwd\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n" + fuzzICS + "--M--\r\n"},
		{"an attachment named invite.ics in RFC 2047 encoded words",
			top + "Content-Type: application/octet-stream; name=\"=?utf-8?q?invite.ics?=\"\r\n\r\n" + fuzzICS},
		{"ISO-2022-JP, an escape sequence inside ORGANIZER",
			top + "Content-Type: text/calendar; charset=iso-2022-jp; method=REQUEST\r\n\r\n" +
				strings.ReplaceAll(fuzzICS, "ORGANIZER", "ORG\x1b(BANIZER")},
		{"UTF-7 under the label csUnicode11UTF7",
			top + "Content-Type: text/calendar; charset=csUnicode11UTF7; method=REQUEST\r\n\r\n" +
				strings.ReplaceAll(fuzzICS, "ORGANIZER", "+AE8-RGANIZER")},
		{"a charset parameter twice, UTF-8 then UTF-7",
			top + "Content-Type: text/calendar; charset=utf-8; charset=utf-7; method=REQUEST\r\n\r\n" +
				strings.ReplaceAll(fuzzICS, "ORGANIZER", "+AE8-RGANIZER")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, conn := fuzzRelay(t)
			checkForward(t, s, conn, []byte(tc.msg))
		})
	}
}

// FuzzReplyCalendars: whatever the person's client (or a sender who planted it) writes, a
// reply the relay does not refuse names no calendar address but the alias and the contacts
// of the connection's reverse aliases.
func FuzzReplyCalendars(f *testing.F) {
	s, conn := fuzzRelay(f)
	ctx := context.Background()
	const token = "tok123"
	s.db.RelayContact.Create().SetConnectionID(conn.ID).SetContactAddress("bookings@app.test").SetToken(token).ExecX(ctx)
	reverse := "r-" + token + "@" + fuzzDomain
	for _, m := range fuzzMessages() {
		f.Add([]byte(strings.ReplaceAll(m, "mailto:bookings@ap\r\n p.test", "mailto:"+reverse)))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		header, body, err := splitMessage(msg)
		if err != nil || replyBodyRefusal(header, body, []string{fuzzPerson}) != "" || checkCalendars(header, body) != "" {
			return // checkReplyBody refuses it
		}
		out, err := s.replyCalendars(ctx, route{conn: conn}, header, body)
		if err != nil {
			t.Fatalf("replyCalendars: %v", err)
		}
		for _, ics := range lenientCalendars(header, out) {
			for _, a := range calendarAddresses(ics) {
				if a != fuzzAlias && a != "bookings@app.test" {
					t.Fatalf("the reply names %q to the contact in\n%q", a, ics)
				}
			}
		}
	})
}

// FuzzCalendarLines: content lines cover the iCalendar data byte for byte and unfold as RFC
// 5545 section 3.1 says; a line that parses is written back as it was read; a folded line is
// at most 75 octets a line and unfolds to what was folded; and a rule that changes nothing
// changes no byte.
func FuzzCalendarLines(f *testing.F) {
	f.Add([]byte(fuzzICS))
	f.Add([]byte(strings.ReplaceAll(fuzzICS, "\r\n", "\n")))
	f.Add([]byte(" leading\r\n\tfold\r\nX;A=\"b\";C=d,\"e\":f\r\n\r\n \r\nEND"))
	f.Fuzz(func(t *testing.T, ics []byte) {
		lines := splitCalendarLines(ics)
		// "x" keeps a blank that starts the data from reading as a continuation.
		unfolded := strings.Split(lineFold.ReplaceAllString("x"+string(ics), ""), "\n")
		unfolded[0] = unfolded[0][1:]
		if len(ics) == 0 || ics[len(ics)-1] == '\n' {
			unfolded = unfolded[:len(unfolded)-1]
		}
		if len(lines) != len(unfolded) {
			t.Fatalf("%d lines, want %d: %q", len(lines), len(unfolded), ics)
		}
		pos := 0
		for i, l := range lines {
			if l.start != pos || l.end < l.start {
				t.Fatalf("line %d spans %d..%d, want it to start at %d", i, l.start, l.end, pos)
			}
			pos = l.end
			if want := strings.TrimSuffix(unfolded[i], "\r"); l.text != want {
				t.Fatalf("line %d unfolds to %q, want %q", i, l.text, want)
			}
			if p, ok := parseProperty(l.text); ok && p.String() != l.text {
				t.Fatalf("%q is written back as %q", l.text, p.String())
			}
			if strings.ContainsAny(l.text, "\r\n") {
				continue
			}
			folded := foldCalendarLine(l.text, "\r\n")
			for _, fl := range strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n") {
				if len(fl) > maxCalLineOctets {
					t.Fatalf("folded into a line of %d octets: %q", len(fl), fl)
				}
			}
			if again := splitCalendarLines([]byte(folded)); len(again) != 1 || again[0].text != l.text {
				t.Fatalf("%q folds into %q, which unfolds to %+v", l.text, folded, again)
			}
		}
		if pos != len(ics) {
			t.Fatalf("lines end at %d of %d", pos, len(ics))
		}
		out, err := rewriteCalendar(ics, func(*property, string) (bool, error) { return true, nil })
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			for _, l := range lines {
				if _, ok := parseProperty(l.text); !ok && !bytes.Contains(out, ics[l.start:l.end]) {
					name := propertyName(strings.TrimPrefix(l.text, "\ufeff"))
					if !slices.Contains(calAddressProperties, name) {
						t.Fatalf("a rule that changes nothing removed %q", ics[l.start:l.end])
					}
				}
			}
		}
	})
}

// keptOutsideCalendars fails t unless out, the body of a message with header whose body was
// body, differs from it only inside the bodies of calendar parts: go-message's reader (which
// the relay's walk does not use) must find the same parts, with the same headers, and the same
// decoded bodies but for calendar parts.
func keptOutsideCalendars(t *testing.T, header textproto.Header, body, out []byte) {
	t.Helper()
	if bytes.Equal(body, out) {
		return
	}
	before, okBefore := goMessageParts(header, body)
	after, okAfter := goMessageParts(header, out)
	w := calendarWalk{}
	w.entity(header, body, 0)
	if !okBefore || len(before) != w.parts {
		return // go-message cuts it otherwise (a delimiter line ending in LF alone after one in CRLF, say)
	}
	if !okAfter || len(before) != len(after) {
		t.Fatalf("the forward's MIME tree changed: %d parts (%v), was %d:\n%q\nnow\n%q", len(after), okAfter, len(before), body, out)
	}
	for i := range before {
		if before[i].header != after[i].header {
			t.Fatalf("part %d's header changed: %q, was %q", i, after[i].header, before[i].header)
		}
		if !before[i].calendar {
			if !bytes.Equal(before[i].body, after[i].body) {
				t.Fatalf("part %d, not a calendar, changed:\n%q\nwas\n%q", i, after[i].body, before[i].body)
			}
			continue
		}
		// A calendar part keeps every line that names no address, in order, as it was once
		// decoded and unfolded; a line is gone or changed only where it named one.
		was, now := decodedLines(before[i]), decodedLines(after[i])
		j := 0
		for _, line := range was {
			if j < len(now) && now[j] == line {
				j++
				continue
			}
			if !strings.ContainsAny(line, "@%") && !slices.Contains(calAddressProperties, propertyName(line)) {
				t.Fatalf("part %d lost or changed %q, which names no address:\n%q\nwas\n%q", i, line, now, was)
			}
			if j < len(now) && strings.Contains(now[j], "@"+fuzzDomain) {
				j++ // the line, rewritten
			}
		}
		if j != len(now) {
			t.Fatalf("part %d gained lines %q:\n%q\nwas\n%q", i, now[j:], now, was)
		}
	}
}

// decodedLines are the content lines of a calendar part, decoded from its transfer encoding
// and unfolded, empty lines left out.
func decodedLines(p goMessagePart) []string {
	b := lenientDecode(p.h.Get("Content-Transfer-Encoding"), p.body)
	if b == nil {
		b = p.body
	}
	var out []string
	for _, l := range strings.Split(lineFold.ReplaceAllString(string(b), ""), "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type goMessagePart struct {
	h        textproto.Header
	header   string
	body     []byte
	calendar bool
}

// goMessageParts walks a message as go-message's textproto reader splits it: its parts in
// order, each with its header as written and its raw body; ok is false when it cannot.
func goMessageParts(header textproto.Header, body []byte) ([]goMessagePart, bool) {
	var parts []goMessagePart
	var walk func(h textproto.Header, body []byte, depth int) bool
	walk = func(h textproto.Header, body []byte, depth int) bool {
		if depth > maxMIMEDepth || len(parts) > maxMIMEParts {
			return false
		}
		var hb bytes.Buffer
		textproto.WriteHeader(&hb, h)
		mediaType, params := contentType(h)
		part := goMessagePart{h: h, header: hb.String(), body: body, calendar: isCalendarPart(h, mediaType, params)}
		parts = append(parts, part)
		if slices.Contains(messageTypes, mediaType) {
			decoded := lenientDecode(h.Get("Content-Transfer-Encoding"), body)
			if decoded == nil {
				decoded = body
			}
			inner, innerBody, err := splitMessage(decoded)
			if err != nil {
				return false
			}
			parts[len(parts)-1].body = nil // re-encoded when what it holds changes
			return walk(inner, innerBody, depth+1)
		}
		if !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
			return true
		}
		parts[len(parts)-1].body = nil // the parts hold it
		mr := textproto.NewMultipartReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return err.Error() == "EOF"
			}
			b, err := readPart(p)
			if err != nil || !walk(p.Header, b, depth+1) {
				return false
			}
		}
	}
	return parts, walk(header, body, 0)
}

// readPart reads the body of a part of go-message's multipart reader.
func readPart(p *textproto.Part) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(p)
	return b.Bytes(), err
}

// lenientCalendars returns the decoded bodies of every part of a message (header and body)
// that some mail client could take for a calendar, reading its MIME tree as leniently as any
// might: every Content-Type, Content-Disposition and Content-Transfer-Encoding field of a part
// counts, any of them naming a calendar makes the part one, a body is tried as it is and
// decoded by each encoding named (base64 skipping what is not base64), and a multipart is cut
// at every boundary any of its Content-Type fields names, whatever its encoding says.
func lenientCalendars(header textproto.Header, body []byte) [][]byte {
	var out [][]byte
	visited := 0
	var walk func(h textproto.Header, body []byte, depth int)
	walk = func(h textproto.Header, body []byte, depth int) {
		visited++
		if depth > maxMIMEDepth+2 || visited > 2000 {
			return
		}
		types := h.Values("Content-Type")
		var names []string
		for _, v := range append(slices.Clone(types), h.Values("Content-Disposition")...) {
			for _, m := range nameParam.FindAllStringSubmatch(v, -1) {
				n, err := new(mime.WordDecoder).DecodeHeader(m[1])
				if err != nil {
					n = m[1]
				}
				names = append(names, strings.ToLower(strings.TrimSpace(n)))
			}
		}
		var bodies [][]byte
		encodings := h.Values("Content-Transfer-Encoding")
		if len(encodings) == 0 {
			encodings = []string{""}
		}
		for _, enc := range encodings {
			d := lenientDecode(enc, body)
			if d == nil {
				d = body // no encoding, or one a client reads as none
			}
			if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, d) }) {
				bodies = append(bodies, d)
			}
		}
		calendar := slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, ".ics") || strings.HasSuffix(n, ".vcs") })
		for _, ct := range types {
			mediaType := strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
			calendar = calendar || slices.Contains(calendarTypes, mediaType)
			switch {
			case strings.HasPrefix(mediaType, "multipart/"):
				for _, m := range boundaryParam.FindAllStringSubmatch(ct, -1) {
					for _, b := range bodies {
						for _, p := range splitMultipart(b, m[1]) {
							ph, pbody := lenientHeader(b[p.start:p.end])
							walk(ph, pbody, depth+1)
						}
						mr := textproto.NewMultipartReader(bytes.NewReader(b), m[1])
						for p, err := mr.NextPart(); err == nil; p, err = mr.NextPart() {
							if pbody, err := readPart(p); err == nil {
								walk(p.Header, pbody, depth+1)
							}
						}
					}
				}
			case mediaType == "message/rfc822" || mediaType == "message/global" || mediaType == "message/news":
				for _, b := range bodies {
					ph, pbody := lenientHeader(b)
					walk(ph, pbody, depth+1)
				}
			}
		}
		if calendar {
			out = append(out, bodies...)
			for _, ct := range types {
				for _, m := range anyCharsetParam.FindAllStringSubmatch(ct, -1) {
					for _, b := range bodies {
						if d := decodeCharset(m[1], b); d != nil {
							out = append(out, d)
						}
					}
				}
			}
		}
	}
	walk(header, body, 0)
	return out
}

// nameParam finds the name and filename parameters of a Content-Type or Content-Disposition
// value, quoted or not.
var nameParam = regexp.MustCompile(`(?i);\s*(?:file)?name\s*=\s*"?([^";\r\n]+)"?`)

// boundaryParam finds the boundary parameters of a Content-Type value, quoted or not.
var boundaryParam = regexp.MustCompile(`(?i);\s*boundary\s*=\s*"?([^";\r\n]+)"?`)

// lenientHeader reads a part's header as go-message does, or, when that fails, as a lenient
// client does: fields up to the first blank line or the first line that is not a field; the
// rest is the body.
func lenientHeader(raw []byte) (textproto.Header, []byte) {
	if h, body, err := splitMessage(raw); err == nil {
		return h, body
	}
	var h textproto.Header
	r := bufio.NewReader(bytes.NewReader(raw))
	read := 0
	var key, value string
	flush := func() {
		if key != "" {
			h.Add(key, strings.TrimSpace(value))
		}
		key, value = "", ""
	}
	for {
		line, err := r.ReadString('\n')
		read += len(line)
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case trimmed == "":
			flush()
			if err != nil {
				return h, nil
			}
			return h, raw[read:]
		case trimmed[0] == ' ' || trimmed[0] == '\t':
			value += " " + strings.TrimSpace(trimmed)
		default:
			flush()
			k, v, ok := strings.Cut(trimmed, ":")
			if !ok {
				return h, raw[read-len(line):]
			}
			key, value = strings.TrimSpace(k), v
		}
		if err != nil {
			flush()
			return h, nil
		}
	}
}

// lenientDecode decodes raw from the transfer encoding enc as a forgiving client does: base64
// ignoring every other character, quoted-printable keeping what is not an escape. nil for
// other encodings (the body is read as it is).
func lenientDecode(enc string, raw []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' {
				return r
			}
			return -1
		}, raw)
		clean = clean[:len(clean)/4*4]
		b, _ := base64.StdEncoding.DecodeString(string(clean))
		return b
	case "quoted-printable":
		var b bytes.Buffer
		b.ReadFrom(quotedprintable.NewReader(bytes.NewReader(raw)))
		return b.Bytes()
	}
	return nil
}

// calendarAddresses returns the addresses a calendar client could write to in ics (lower-cased,
// "mailto:" and any "?query" removed, percent-decoded): the value of every ORGANIZER and
// ATTENDEE line and of every calAddressParams parameter, and every value and parameter value
// that is a "mailto:" URI, when it holds an "@". Lines are unfolded and split at CR, LF or
// both, names read in any case after blanks and a byte order mark.
func calendarAddresses(ics []byte) []string {
	var out []string
	add := func(v string) {
		for _, a := range addressPattern.FindAllString(percentDecode(v), -1) {
			out = append(out, strings.ToLower(a))
		}
	}
	text := anyLineFold.ReplaceAllString(string(ics), "")
	for _, line := range anyLineBreak.Split(text, -1) {
		line = strings.TrimLeft(strings.TrimPrefix(strings.TrimLeft(line, " \t"), "\ufeff"), " \t")
		name, params, value := lenientProperty(line)
		organizer := slices.Contains(calAddressProperties, strings.ToUpper(strings.TrimSpace(name)))
		if _, ok := parseProperty(line); !ok && !organizer {
			continue // no client writes to what a line that does not parse names, but an ORGANIZER's or ATTENDEE's
		}
		if organizer || isMailto(value) {
			add(value)
		}
		for _, p := range params {
			pn, pv, _ := strings.Cut(p, "=")
			cal := slices.Contains(calAddressParams, strings.ToUpper(strings.TrimSpace(pn)))
			for _, v := range splitQuoted(pv, ',') {
				v = strings.Trim(strings.TrimSpace(v), `"`)
				if cal || isMailto(v) {
					add(v)
				}
			}
		}
	}
	return out
}

// addressPattern finds what could be read as an address: anything around an "@" up to a
// character that no address holds unquoted ("mailto:" and a "?query" left out).
var addressPattern = regexp.MustCompile(`[^\s"'<>:;,()\[\]\\@]*@[^\s"'<>:;,()\[\]\\?]*`)

// lenientProperty cuts a content line into its name, its parameters (name=value, as written)
// and its value: at the first ";" or ":" for the name, at the first ":" outside quotes for the
// value (the whole rest when quotes never close).
func lenientProperty(line string) (name string, params []string, value string) {
	i := strings.IndexAny(line, ";:")
	if i < 0 {
		return line, nil, ""
	}
	name = line[:i]
	rest := line[i:]
	quoted := false
	for j := 0; j < len(rest); j++ {
		switch c := rest[j]; {
		case c == '"':
			quoted = !quoted
		case c == ':' && !quoted:
			value = rest[j+1:]
			rest = rest[:j]
			return name, splitQuoted(strings.TrimPrefix(rest, ";"), ';'), value
		}
	}
	return name, splitQuoted(strings.TrimPrefix(rest, ";"), ';'), ""
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// percentDecode decodes every valid %XX of s, keeping the rest.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if c, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// decodeCharset decodes b from charset as far as calendarAddresses needs, for the charsets
// that write ASCII otherwise than as ASCII: ISO-2022 (its escape sequences removed) and
// UTF-7 (in any of its labels); nil for the others.
func decodeCharset(charset string, b []byte) []byte {
	c := strings.ToLower(charset)
	switch {
	case strings.Contains(c, "2022"):
		return iso2022Escape.ReplaceAll(b, nil)
	case strings.Contains(c, "utf-7") || strings.Contains(c, "utf7"):
		var out bytes.Buffer
		for i := 0; i < len(b); i++ {
			if b[i] != '+' {
				out.WriteByte(b[i])
				continue
			}
			j := i + 1
			for j < len(b) && (b[j] >= 'A' && b[j] <= 'Z' || b[j] >= 'a' && b[j] <= 'z' || b[j] >= '0' && b[j] <= '9' || b[j] == '+' || b[j] == '/') {
				j++
			}
			if j == i+1 {
				out.WriteByte('+') // "+-" is "+"
			}
			enc := b[i+1 : j]
			if len(enc)%4 == 1 {
				enc = enc[:len(enc)-1] // no whole byte in its last character
			}
			raw, _ := base64.RawStdEncoding.DecodeString(string(enc))
			for k := 0; k+1 < len(raw); k += 2 {
				out.WriteRune(rune(raw[k])<<8 | rune(raw[k+1]))
			}
			i = j - 1
			if j < len(b) && b[j] == '-' {
				i = j
			}
		}
		return out.Bytes()
	}
	return nil
}
