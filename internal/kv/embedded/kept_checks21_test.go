package embedded

import (
	"fmt"
	"strings"
	"testing"
)

// Keys under a Capped prefix (rate-limit counters, never evicted) take at most half of MaxKeys
// and of MaxBytes: an attacker who has a new counter written per request (a new source
// address, a new address asked a sign-in mail for) fills that half and is then answered
// ErrKeptFull (an OOM, 503), while sessions stay and other writes go on. Before, the counters
// took the whole store: every session was evicted (0 of 10 kept), then every write failed, a
// revocation's marker too. Other kept keys (those markers) are not capped.
func TestCountersCannotPushOutSessions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]Options{
		"keys":  {MaxKeys: 100, Keep: []string{"rl:", "frv:"}, Capped: []string{"rl:"}},
		"bytes": {MaxBytes: 32 << 10, Keep: []string{"rl:", "frv:"}, Capped: []string{"rl:"}},
	} {
		s := mustOpen(t, opt)
		for i := range 10 {
			if r := do(s, "SET", fmt.Sprint("sess:", i), strings.Repeat("s", 100), "EX", "60"); r != any(ok) {
				t.Fatalf("%s: session %d: %v", name, i, r)
			}
		}
		refused, failed := 0, 0
		for i := range 2000 {
			key := fmt.Sprintf("rl:signin:ip:2001:db8:%x::/64", i)
			r := s.DoAll(args("INCRBY "+key+" 1", "PEXPIRE "+key+" 3600000 NX"))
			switch r[0] {
			case any(int64(1)):
			case any(ErrKeptFull):
				refused++
			default:
				failed++
			}
		}
		kept := 0
		for i := range 10 {
			if do(s, "EXISTS", fmt.Sprint("sess:", i)) == any(int64(1)) {
				kept++
			}
		}
		if kept != 10 || refused == 0 || failed > 0 {
			t.Errorf("%s: after 2000 distinct counters %d of 10 sessions are kept, %d counters were refused with ErrKeptFull and %d failed otherwise; "+
				"want all sessions kept and counters refused past their half", name, kept, refused, failed)
		}
		s.mu.Lock()
		keys, bytes := s.cappedKeys, s.cappedBytes
		s.mu.Unlock()
		if keys > s.opt.MaxKeys/2 || bytes > s.opt.MaxBytes/2 {
			t.Errorf("%s: counters hold %d keys and %d bytes, past half of %d and %d", name, keys, bytes, s.opt.MaxKeys, s.opt.MaxBytes)
		}
		if r := do(s, "SET", "sess:new", "v", "EX", "60"); r != any(ok) {
			t.Errorf("%s: a new session with the counters' half full = %v, want OK", name, r)
		}
		if r := do(s, "SET", "frv:family", "1", "EX", "7200"); r != any(ok) {
			t.Errorf("%s: a revoked family's marker (kept, not capped) with the counters' half full = %v, want OK", name, r)
		}
		if r := do(s, "INCRBY", "rl:signin:ip:2001:db8:0::/64", "1"); r != any(int64(2)) {
			t.Errorf("%s: a counter already there goes on counting: %v, want 2", name, r)
		}
	}
}
