package relay

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// allocatedBy returns the bytes the heap handed out while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestTheCalendarWalkOfAMessageIsPaidOnce: every forward walks the message's MIME tree for
// calendar parts three times per route (checkCalendars once, then calendarParticipants and the
// rewrite for each alias), a reply likewise. The walk split each multipart line by line at
// every level, read the header of every part past its bounds with a 4 KiB reader of its own,
// and lowered the bytes past its bounds into a copy of their size, again for each route: a
// flat multipart of a few MiB of empty parts allocated hundreds of MiB per walk, a 20 MiB
// message of multiparts nested ten deep took seconds of CPU per walk, 101 walks for a message
// to 50 aliases, from anyone who can send mail. Now a multipart holds at most
// maxMIMEParts+1 parts for the walk (the last runs to the end, still looked at), and a
// route's walks reuse the splits and decoded bytes of the first (calendarCache): the first
// walk allocates less than the message's size, a route's walk a small part of it (a few hundred parts read again), and the
// outcome is the same as before.
func TestTheCalendarWalkOfAMessageIsPaidOnce(t *testing.T) {
	deep := func(filler string) string {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=L0\r\n\r\n")
		for i := 1; i <= maxMIMEDepth+2; i++ {
			fmt.Fprintf(&b, "--L%d\r\nContent-Type: multipart/mixed; boundary=L%d\r\n\r\n", i-1, i)
		}
		fmt.Fprintf(&b, "--L%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n", maxMIMEDepth+2, filler)
		return b.String()
	}
	flat := func(parts int, last string) string {
		return "Content-Type: multipart/mixed; boundary=F\r\n\r\n" + strings.Repeat("--F\r\n\r\n", parts) +
			"--F\r\n" + last + "\r\n--F--\r\n"
	}
	invite := "Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR"
	for _, tc := range []struct {
		name, raw string
		refused   bool
	}{
		{name: "multiparts nested past the bounds", raw: deep(strings.Repeat("just some text\r\n", 200_000))},
		{name: "a calendar nested past the bounds", raw: deep(strings.Repeat("just some text\r\n", 200_000) + invite), refused: true},
		{name: "a flat multipart of many empty parts", raw: flat(1_000_000, "Content-Type: text/plain\r\n\r\nhello")},
		{name: "a calendar after many empty parts", raw: flat(1_000_000, invite), refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, body, err := splitMessage([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			cache := newCalendarCache()
			var reason string
			first := allocatedBy(func() { reason = checkCalendarsCached(h, body, cache) })
			if (reason != "") != tc.refused {
				t.Fatalf("checkCalendars = %q, want refused %v", reason, tc.refused)
			}
			if first > uint64(len(tc.raw)) {
				t.Errorf("the first walk of a %d-byte message allocated %d bytes", len(tc.raw), first)
			}
			if tc.refused {
				return
			}
			route := allocatedBy(func() { calendarParticipants(h, body, false, cache) })
			if route > uint64(len(tc.raw)/4) {
				t.Errorf("a route's walk of a %d-byte message allocated %d bytes", len(tc.raw), route)
			}
		})
	}
}
