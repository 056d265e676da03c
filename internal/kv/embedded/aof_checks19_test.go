package embedded

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// frames19 is a version 3 or 4 log: header, then one frame per group of records.
func frames19(header string, groups ...[]byte) []byte {
	b := []byte(header)
	for _, g := range groups {
		frame := append(make([]byte, frameHead), g...)
		seal(frame)
		b = append(b, frame...)
	}
	return b
}

// delta19 is a delta record: members add to the set key, its deadline exp.
func delta19(key string, exp int64, add ...string) []byte {
	l := &aof{}
	l.recordDelta(key, exp, add)
	return l.buf
}

func members19(s *Store, key string) string {
	var out []string
	if ms, isArray := do(s, "SMEMBERS", key).([]any); isArray {
		for _, m := range ms {
			out = append(out, string(m.([]byte)))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// A log written before this version (header "LOGINSIGN-KV 3") recorded an SADD that created
// a set as a delta record, even when the log held the same key's set from before, expired
// since: a person's index of sessions (identity.Sessions: SADD and EXPIRE in one MULTI)
// signed in again after it had lapsed. The replay keeps expired keys until the whole log is
// read (since stop 64), so it added the new set to the lapsed one: its members came back
// after a restart. Redis (and the store before the restart) holds the new member only.
func TestAnOldLogDoesNotBringBackTheMembersOfAnExpiredSet(t *testing.T) {
	t.Parallel()
	c := newClock()
	t0 := c.Now().UnixMilli()
	hour := int64(time.Hour / time.Millisecond)
	// Signed in at t0: the index lives an hour. Signed in again 2 hours later: the index had
	// lapsed, and the old writer logged the new one as a delta. A bare SADD of a new set
	// with no TTL (another key) was a delta too.
	log := frames19(aofHeaderV3,
		append(encode(nil, "us:u", &entry{kind: kindSet, exp: t0 + hour, set: map[string]struct{}{"old": {}}}),
			encode(nil, "plain", &entry{kind: kindSet, exp: t0 + hour, set: map[string]struct{}{"gone": {}}})...),
		delta19("us:u", t0+3*hour, "new"),
		delta19("plain", 0, "kept"))
	path := filepath.Join(t.TempDir(), "kv.aof")
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Add(2*time.Hour + time.Minute)
	for _, what := range []string{"the version 3 log", "the log it was rewritten as"} {
		s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := members19(s, "us:u"); got != "new" {
			t.Errorf("%s: the index of sessions after a restart holds [%s], want [new] (the expired set's members came back)", what, got)
		}
		if got := members19(s, "plain"); got != "kept" {
			t.Errorf("%s: a set created anew without a TTL holds [%s] after a restart, want [kept]", what, got)
		}
		s.Close()
		if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte(aofHeader)) {
			t.Fatalf("after opening %s, the log starts %q, want %q", what, b[:min(len(b), len(aofHeader))], aofHeader)
		}
	}
}

// What the old rule must not undo: in a version 3 log, a set still live when its delta added
// members keeps its members when its own deadline is still ahead, and an EXPIRE's delta (no
// members) still extends a key past its old deadline.
func TestAnOldLogKeepsLiveSetsAndExtendedKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	t0 := c.Now().UnixMilli()
	hour := int64(time.Hour / time.Millisecond)
	log := frames19(aofHeaderV3,
		encode(nil, "fam:1", &entry{kind: kindSet, exp: t0 + 5*hour, set: map[string]struct{}{"a": {}}}),
		encode(nil, "sess:x", &entry{kind: kindHash, exp: t0 + hour, hash: map[string][]byte{"uid": []byte("usr_1")}}),
		encode(nil, "us:v", &entry{kind: kindSet, exp: t0 + hour, set: map[string]struct{}{"s1": {}}}),
		delta19("fam:1", t0+6*hour, "b"),
		delta19("sess:x", t0+4*hour),
		delta19("us:v", t0+4*hour))
	path := filepath.Join(t.TempDir(), "kv.aof")
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour)
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := members19(s, "fam:1"); got != "a,b" {
		t.Errorf("a live set grown in a version 3 log holds [%s], want [a,b]", got)
	}
	if got := members19(s, "us:v"); got != "s1" {
		t.Errorf("a set whose TTL an EXPIRE extended holds [%s], want [s1]", got)
	}
	if v, _ := do(s, "HGET", "sess:x", "uid").([]byte); string(v) != "usr_1" {
		t.Errorf("a session whose TTL an EXPIRE extended is gone after a restart")
	}
}

// The version this store writes: a set that was live when SADD and EXPIRE (one MULTI) grew
// it and pushed its deadline keeps its members after a restart that comes past its old
// deadline, and one that lapsed before it was created anew holds its new members only.
func TestAVersion4LogKeepsAGrownSetAndDropsALapsedOne(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	grow := func(key, member string) {
		s.DoAll([][][]byte{{[]byte("SADD"), []byte(key), []byte(member)}, {[]byte("EXPIRE"), []byte(key), []byte("3600")}})
	}
	grow("us:live", "a")
	grow("us:lapsed", "old")
	c.Add(50 * time.Minute)
	grow("us:live", "b")
	c.Add(20 * time.Minute) // us:lapsed expired 10 minutes ago
	grow("us:lapsed", "new")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute) // past us:live's first deadline
	r, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := members19(r, "us:live"); got != "a,b" {
		t.Errorf("a grown set after a restart holds [%s], want [a,b]", got)
	}
	if got := members19(r, "us:lapsed"); got != "new" {
		t.Errorf("a set created anew after it lapsed holds [%s] after a restart, want [new]", got)
	}
}
