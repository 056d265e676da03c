package relay_test

import (
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPeerPastItsSessionsIsTurnedAwayWith421: one peer holds at most MaxPeerConnections
// sessions at once (10 by default). Its next connection gets "421 4.7.0" and is closed, while
// another peer is still greeted; once one of the peer's sessions ends, it is greeted again.
func TestAPeerPastItsSessionsIsTurnedAwayWith421(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		var held []*rawSession
		for i := range 10 {
			s, line := rawDial(t, "127.0.0.3", f.addr, 5*time.Second)
			if !strings.HasPrefix(line, "220") {
				t.Fatalf("session %d of 127.0.0.3: greeting %q, want 220", i+1, line)
			}
			held = append(held, s)
		}
		s, line := rawDial(t, "127.0.0.3", f.addr, 5*time.Second)
		if want := "421 4.7.0 mx.relay.test Too many connections from your address, try again later"; line != want {
			t.Errorf("session 11 of 127.0.0.3: greeting %q, want %q", line, want)
		}
		if _, err := s.r.ReadLine(); err == nil {
			t.Errorf("session 11 of 127.0.0.3 stayed open after its 421")
		}
		if _, line := rawDial(t, "127.0.0.4", f.addr, 5*time.Second); !strings.HasPrefix(line, "220") {
			t.Errorf("127.0.0.4 while 127.0.0.3 holds 10 sessions: greeting %q, want 220", line)
		}
		if got := held[0].cmd("QUIT"); !strings.HasPrefix(got, "221") {
			t.Fatalf("QUIT: %s", got)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, line := rawDial(t, "127.0.0.3", f.addr, 5*time.Second)
			if strings.HasPrefix(line, "220") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("127.0.0.3 after one of its 10 sessions ended: greeting %q, want 220", line)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
