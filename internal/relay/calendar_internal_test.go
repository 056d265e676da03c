package relay

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePropertyWritesBackWhatItReads(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{line: "ORGANIZER;CN=\"Front Desk; Bookings\";SENT-BY=\"mailto:desk@app.test\":mailto:bookings@app.test", ok: true},
		{line: "ATTENDEE;DELEGATED-TO=\"mailto:a@x.test\",\"mailto:b@x.test\";CN=Pat Person:mailto:p@x.test", ok: true},
		{line: "DESCRIPTION:a: b; c, d", ok: true},
		{line: "X-EMPTY;X-P=:", ok: true},
		{line: "ORGANIZER;CN=\"unterminated:mailto:x@y.test"},
		{line: "ORGANIZER;CN=Bad\"Quote:mailto:x@y.test"},
		{line: "ORGANIZER :mailto:x@y.test"},
		{line: "ORGANIZER;CN:mailto:x@y.test"},
		{line: "no colon"},
		{line: ":value"},
	} {
		p, ok := parseProperty(tc.line)
		if ok != tc.ok {
			t.Errorf("parseProperty(%q) ok = %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if ok && p.String() != tc.line {
			t.Errorf("parseProperty(%q).String() = %q", tc.line, p.String())
		}
	}
}

func TestFoldCalendarLine(t *testing.T) {
	line := "ATTENDEE;CN=" + strings.Repeat("Zoë ", 40) + ":mailto:r-abc@relay.test"
	folded := foldCalendarLine(line, "\r\n")
	if !strings.HasSuffix(folded, "\r\n") {
		t.Fatalf("folded line does not end in CRLF: %q", folded)
	}
	for _, l := range strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n") {
		if len(l) > maxCalLineOctets {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("a fold cut a character: %q", l)
		}
	}
	if got := splitCalendarLines([]byte(folded)); len(got) != 1 || got[0].text != line {
		t.Errorf("unfolded = %+v, want %q", got, line)
	}
	if got := foldCalendarLine("END:VCALENDAR", ""); got != "END:VCALENDAR" {
		t.Errorf("a last line without a line break got %q", got)
	}
}

// A line folded many times costs memory in proportion to its length: anyone can send the relay
// a calendar part of one line folded at every character (25 MiB of "\n x" is 8 million
// continuations). Before, each continuation copied the line unfolded so far: 20,000 of them
// allocated some 200 MB, and a message at the size limit kept a forward busy for hours.
func TestUnfoldingAllocatesInProportionToTheLine(t *testing.T) {
	ics := append([]byte("DESCRIPTION:x"), bytes.Repeat([]byte("\r\n x"), 20_000)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lines := splitCalendarLines(ics)
	runtime.ReadMemStats(&after)
	if len(lines) != 1 || lines[0].text != "DESCRIPTION:"+strings.Repeat("x", 20_001) {
		t.Fatalf("unfolded into %d lines", len(lines))
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 50*uint64(len(ics)) {
		t.Errorf("unfolding %d bytes allocated %d bytes", len(ics), allocated)
	}
}

func TestSplitMultipartKeepsEveryByteInItsPlace(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{name: "preamble, padding and epilogue",
			body: "preamble\r\n--B \t\r\nContent-Type: text/plain\r\n\r\none\r\n--B\r\n\r\ntwo\r\n\r\n--B--  \r\nepilogue\r\n",
			want: []string{"Content-Type: text/plain\r\n\r\none", "\r\ntwo\r\n"}},
		{name: "LF line breaks", body: "--B\nA: b\n\none\n--B--\n", want: []string{"A: b\n\none"}},
		{name: "no closing delimiter", body: "--B\r\n\r\none\r\n--B\r\n\r\ntwo\r\n", want: []string{"\r\none", "\r\ntwo\r\n"}},
		{name: "lines that only start like a delimiter", body: "--B\r\n\r\n--Bx\r\n--B--x\r\n--B--\r\n", want: []string{"\r\n--Bx\r\n--B--x"}},
		{name: "no delimiter", body: "just text\r\n"},
	} {
		var got []string
		for _, s := range splitMultipart([]byte(tc.body), "B") {
			got = append(got, tc.body[s.start:s.end])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: parts %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestReadCalAddress(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  calAddress
	}{
		{"mailto:Bookings@App.test", calAddress{scheme: "mailto:", address: "bookings@app.test", names: true}},
		{"MAILTO:bookings%40app.test?subject=hi", calAddress{scheme: "MAILTO:", address: "bookings@app.test", names: true}},
		{"bookings@app.test", calAddress{address: "bookings@app.test", names: true}},
		{"urn:uuid:0b2a", calAddress{}},
		{"mailto:", calAddress{scheme: "mailto:"}},
		{"mailto:a@app.test,b@app.test", calAddress{scheme: "mailto:", names: true}},
		{"Desk:mailto:desk@app.test", calAddress{names: true}},
		{"John <john@app.test>", calAddress{names: true}},
		{"mailto:\"a b\"@app.test", calAddress{scheme: "mailto:", names: true}},
	} {
		if got := readCalAddress(tc.value); got != tc.want {
			t.Errorf("readCalAddress(%q) = %+v, want %+v", tc.value, got, tc.want)
		}
	}
}

// A line that does not parse but starts like an ORGANIZER or ATTENDEE goes: a lenient client
// could still find an address in it. Other lines stay, and every line has the METHOD of its own
// VCALENDAR.
func TestRewriteCalendarLines(t *testing.T) {
	ics := "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nORGANIZER;CN=\"Desk:mailto:x@app.test\r\n" +
		"organizer ;CN=x:mailto:y@app.test\r\nX-ODD;A=\"b:c\r\nEND:VCALENDAR\r\n" +
		"BEGIN:VCALENDAR\r\nMETHOD:reply\r\nATTENDEE:mailto:p@x.test\r\nEND:VCALENDAR"
	var methods []string
	out, err := rewriteCalendar([]byte(ics), func(p *property, method string) (bool, error) {
		methods = append(methods, p.name+" "+method)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nX-ODD;A=\"b:c\r\nEND:VCALENDAR\r\n" +
		"BEGIN:VCALENDAR\r\nMETHOD:reply\r\nATTENDEE:mailto:p@x.test\r\nEND:VCALENDAR"
	if string(out) != want {
		t.Errorf("rewritten =\n%q\nwant\n%q", out, want)
	}
	wantMethods := []string{"BEGIN REQUEST", "METHOD REQUEST", "END REQUEST", "BEGIN REPLY", "METHOD REPLY", "ATTENDEE REPLY", "END REPLY"}
	if !slices.Equal(methods, wantMethods) {
		t.Errorf("methods %q, want %q", methods, wantMethods)
	}
	if out, _ := rewriteCalendar([]byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), func(*property, string) (bool, error) { return true, nil }); out != nil {
		t.Errorf("an unchanged calendar came back as %q, want nil", out)
	}
}

// A calendar part whose every line goes comes back empty. Before, it came back nil, which
// reads as "unchanged": a part holding only an ORGANIZER that cannot have a reverse alias
// ("mailto:a@x.test,b@x.test", an address past the cap) was forwarded as it came (found by
// FuzzForwardCalendars, testdata/fuzz/FuzzForwardCalendars/81077d0800365f1d).
func TestRewriteCalendarRemovingEveryLine(t *testing.T) {
	for _, ics := range []string{
		"ORGANIZER:mailto:a@x.test,b@x.test\r\n",
		"ORGANIZER;CN=\"unterminated:mailto:a@x.test",
	} {
		out, err := rewriteCalendar([]byte(ics), func(*property, string) (bool, error) { return false, nil })
		if err != nil || out == nil || len(out) != 0 {
			t.Errorf("rewriteCalendar(%q) = %q (nil: %v), %v; want empty, not nil", ics, out, out == nil, err)
		}
	}
}
