package embedded

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A key whose TTL was extended by an EXPIRE of its own (a delta record in the log) survives a
// restart that comes after the deadline it had before the extension. identity.Sessions.Lookup
// touches a session with HSET "seen" and then EXPIRE, two commands of a plain pipeline: the
// HSET's record carries the deadline the session had until then, the EXPIRE's the new one.
// Before, the replay dropped the HSET's record as expired, and the EXPIRE's then found no key:
// a session used this morning, whose previous use was yesterday afternoon, was gone after a
// restart tonight (and so was a waiting sign-in's count of tries at its number, rl:wta:,
// extended by a resend), although it was live when the server stopped. Redis loads its AOF
// whole before it expires anything.
func TestReplayKeepsAKeyWhoseTTLWasExtendedAfterItsOldDeadline(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	day := int64(24 * time.Hour / time.Second)
	// Signed in: the session lives a day unless it is used.
	do(s, "HSET", "sess:a", "uid", "usr_1", "seen", "0")
	do(s, "EXPIRE", "sess:a", itoa(day))
	// A try at a waiting sign-in's number (oauth countTry: INCR and PEXPIRE in one
	// transaction), for as long as the link lives (a day here).
	s.DoAll([][][]byte{{[]byte("INCR"), []byte("rl:wta:w")},
		{[]byte("PEXPIRE"), []byte("rl:wta:w"), []byte(itoa(int64(24 * time.Hour / time.Millisecond)))}})
	// Used 23 hours later: its record carries the old deadline (1 hour away), the EXPIRE's
	// the new one (a day away). A resend extends the try counter (oauth sendWaiting), 3 hours.
	c.Add(23 * time.Hour)
	do(s, "HSET", "sess:a", "seen", "1")
	do(s, "EXPIRE", "sess:a", itoa(day))
	do(s, "PEXPIRE", "rl:wta:w", itoa(int64(3*time.Hour/time.Millisecond)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted 2 hours later: past the old deadlines, well within the new ones.
	c.Add(2 * time.Hour)
	r, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, isBulk := do(r, "HGET", "sess:a", "uid").([]byte); !isBulk || string(v) != "usr_1" {
		t.Fatalf("a live session after a restart: HGET uid = %v, want usr_1 (its TTL was extended to a day)", do(r, "HGET", "sess:a", "uid"))
	}
	if ttl, _ := do(r, "PTTL", "sess:a").(int64); ttl <= 0 || ttl > int64(22*time.Hour/time.Millisecond) {
		t.Fatalf("the session's PTTL after a restart = %d, want the 22 hours left", ttl)
	}
	if v, isBulk := do(r, "GET", "rl:wta:w").([]byte); !isBulk || string(v) != "1" {
		t.Fatalf("a try counter extended before a restart: GET = %v, want 1 (a limit forgotten)", do(r, "GET", "rl:wta:w"))
	}
	// What had really expired is still gone, and stays out of the compacted log.
	do(r, "SET", "short", "v", "PX", "1000")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	c.Add(23 * time.Hour)
	again, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n := again.Len(); n != 0 {
		t.Fatalf("after every deadline passed, %d keys were loaded, want none", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A set that expired and was then created anew by SADD comes back from the log with the new
// members only: SADD records a new set whole, never as a delta, which the replay (keeping
// expired keys until the log is read) would add to the old set's members.
func TestReplayDoesNotAddANewSetToItsExpiredPredecessor(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	do(s, "SADD", "usess:u", "old")
	do(s, "EXPIRE", "usess:u", "60")
	c.Add(2 * time.Minute)
	do(s, "SADD", "usess:u", "new")
	do(s, "EXPIRE", "usess:u", "3600")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if do(r, "SISMEMBER", "usess:u", "old") != any(int64(0)) || do(r, "SCARD", "usess:u") != any(int64(1)) {
		t.Fatalf("the set after a restart: %v, want [new]", do(r, "SMEMBERS", "usess:u"))
	}
}
