package relay_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A session cannot be held for ever by commands that do nothing: NOOP every few hundred
// milliseconds keeps every read within ReadTimeout, but past MaxSessionDuration the session
// gets "421 4.4.2" and is closed, and its peer's slot is free again. Sessions of
// MaxPeerConnections peers held that way stopped the relay's mail.
func TestNOOPsDoNotHoldASessionPastItsLifetime(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const lifetime = time.Second
		f := newFixture(t, db, fixtureOptions{maxSession: lifetime})
		s, line := rawDial(t, "127.0.0.5", f.addr, 5*time.Second)
		if !strings.HasPrefix(line, "220") {
			t.Fatalf("greeting %q", line)
		}
		if got := s.cmd("EHLO client.test"); !strings.HasPrefix(got, "250") {
			t.Fatalf("EHLO: %s", got)
		}
		var last string
		for end := time.Now().Add(10 * lifetime); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if last = s.cmd("NOOP"); !strings.HasPrefix(last, "250") {
				break
			}
		}
		if !strings.HasPrefix(last, "421 4.4.2") {
			t.Fatalf("NOOPs for ten times the session's lifetime: last reply %q, want 421 4.4.2", last)
		}
		if _, err := s.r.ReadLine(); err == nil {
			t.Fatal("the session stayed open after its 421")
		}
		// A new session of the same peer is greeted, and works.
		s, line = rawDial(t, "127.0.0.5", f.addr, 5*time.Second)
		if !strings.HasPrefix(line, "220") || !strings.HasPrefix(s.cmd("EHLO client.test"), "250") {
			t.Fatalf("a new session after the old one ended: greeting %q", line)
		}
	})
}
