package relay_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// onceICS is a large iCalendar object (about 400 KB): an invitation with a long DESCRIPTION
// on many lines, as a recurring meeting's agenda grows.
func onceICS() string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:team-7@acme.test\r\n" +
		"ORGANIZER:mailto:" + person + "\r\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "X-AGENDA-%d;LANGUAGE=en:item %d of the agenda, with some words to read before we meet\r\n", i, i)
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// onceReply is a reply of the person's to the reverse aliases of tokens with onceICS in base64.
func onceReply(tokens []string) []byte {
	var to []string
	for _, t := range tokens {
		to = append(to, "<r-"+t+"@"+domain+">")
	}
	enc := base64.StdEncoding.EncodeToString([]byte(onceICS()))
	var body strings.Builder
	for len(enc) > 76 {
		body.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	body.WriteString(enc + "\r\n")
	return []byte("From: <" + person + ">\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: Team meeting\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body.String())
}

// allocatedBy returns the bytes the process allocated while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// onceFixture is a relay whose connection has a contact for each of tokens.
func onceFixture(tb testing.TB, db *store.DB, tokens []string) *fixture {
	f := newFixture(tb, db, fixtureOptions{rcptLimit: 1 << 20, replyLimit: 1 << 20})
	for i, t := range tokens {
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(fmt.Sprintf("guest%d@acme.test", i)).SetToken(t).ExecX(context.Background())
	}
	return f
}

// sendOnce sends a reply to the reverse aliases of tokens and waits for every copy.
func sendOnce(tb testing.TB, f *fixture, tokens []string) {
	var rcpts []string
	for _, t := range tokens {
		rcpts = append(rcpts, "r-"+t+"@"+domain)
	}
	if err := send(f.addr, person, rcpts, onceReply(tokens)); err != nil {
		tb.Fatalf("reply: %v", err)
	}
	for range tokens {
		f.out.Next(tb, 10*time.Second)
	}
}

// TestACalendarPartIsDecodedOncePerMessage: each route of a message (a reply to several
// reverse aliases, a forward to several aliases) decoded and parsed every calendar part twice
// (once to collect its addresses, once to rewrite them), after the message's own check had
// decoded it once: a 400 KB calendar cost each extra reverse alias over 3 MB of allocations.
// The parts are decoded and parsed once per message now; each route only rewrites and encodes
// its copy. Not parallel: it reads the process's allocation counter.
func TestACalendarPartIsDecodedOncePerMessage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		tokens := []string{"tokone", "toktwo", "tokthree", "tokfour", "tokfive", "toksix", "tokseven", "tokeight", "toknine"}
		f := onceFixture(t, db, tokens)
		sendOnce(t, f, tokens[:1]) // warm up
		one := allocatedBy(func() { sendOnce(t, f, tokens[:1]) })
		nine := allocatedBy(func() { sendOnce(t, f, tokens) })
		size := uint64(len(onceICS()))
		perRoute := (nine - one) / 8
		t.Logf("calendar %d bytes; one route %d bytes, nine %d, each extra route %d (%.1f× the calendar)", size, one, nine, perRoute, float64(perRoute)/float64(size))
		// Each route still encodes its copy, and the test's SMTP server reads and parses it:
		// about 17× the calendar now, 37× when the route decoded and parsed it twice more.
		if perRoute > 27*size {
			t.Errorf("each extra route allocated %d bytes, %.1f× the %d-byte calendar: it is decoded again per route", perRoute, float64(perRoute)/float64(size), size)
		}
	})
}

// BenchmarkReplyCalendarNineRoutes measures a reply with onceICS to nine reverse aliases
// (allocations per message with -benchmem).
func BenchmarkReplyCalendarNineRoutes(b *testing.B) {
	tokens := []string{"tokone", "toktwo", "tokthree", "tokfour", "tokfive", "toksix", "tokseven", "tokeight", "toknine"}
	f := onceFixture(b, storetest.SQLite(b), tokens)
	b.ReportAllocs()
	for b.Loop() {
		sendOnce(b, f, tokens)
	}
}
