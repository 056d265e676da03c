package embedded

import (
	"fmt"
	"testing"
	"time"
)

// Rate-limit counters whose window has ended (expired, not yet swept) hold no room: a write
// at a bound deletes them before it evicts a live session, and a new counter with the
// counters' half full of expired ones is written. Before, room never looked at the heap of
// kept keys, so a session was evicted while expired counters held the room, and a new
// counter was refused (ErrKeptFull) until the sweep came by (with 20,000 keys a sweep, taken
// from the other keys first, later still under a flood).
func TestExpiredCountersGoBeforeLiveKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := mustOpen(t, Options{MaxKeys: 8, Keep: []string{"rl:"}, Capped: []string{"rl:"}, Now: c.Now, SweepEvery: time.Hour})
	for i := range 4 {
		if r := do(s, "SET", fmt.Sprint("rl:", i), "1", "PX", "1000"); r != any(ok) {
			t.Fatal(r)
		}
	}
	if r := do(s, "SET", "rl:more", "1", "PX", "1000"); r != any(ErrKeptFull) {
		t.Fatalf("a fifth counter of 8 keys: %v, want ErrKeptFull", r)
	}
	for i := range 4 {
		if r := do(s, "SET", fmt.Sprint("sess:", i), "v", "EX", "3600"); r != any(ok) {
			t.Fatal(r)
		}
	}
	c.Add(2 * time.Second) // the counters' window ends
	if r := do(s, "SET", "sess:new", "v", "EX", "3600"); r != any(ok) {
		t.Fatalf("a session at the bound: %v", r)
	}
	if r := do(s, "SET", "rl:new", "1", "EX", "60"); r != any(ok) {
		t.Errorf("a counter with the counters' half full of expired ones: %v, want OK", r)
	}
	if r := do(s, "EXISTS", "sess:0", "sess:1", "sess:2", "sess:3", "sess:new"); r != any(int64(5)) {
		t.Errorf("live sessions kept at the bound while expired counters held room: %v of 5", r)
	}
}
