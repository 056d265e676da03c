package embedded

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lowLimits20 lowers the limits of the log, which the reader and the writer share, for the
// test (the real ones would need gigabytes) and puts them back after it. The tests that call
// it are not parallel: the parallel ones run after them.
func lowLimits20(t *testing.T, length, members uint64, record int64) {
	l, m, r := limitLength, limitMembers, limitRecord
	limitLength, limitMembers, limitRecord = length, members, record
	t.Cleanup(func() { limitLength, limitMembers, limitRecord = l, m, r })
}

func size20(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// reopen20 closes s and opens the log at path again: a log that a write left past the
// reader's limits would not open (the store would refuse to start, every session lost).
func reopen20(t *testing.T, s *Store, path string, c *clock) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatalf("the log no longer opens after a write the store answered: %v", err)
	}
	t.Cleanup(func() { again.Close() })
	return again
}

// A key, value, member or field longer than the log's reader takes (512 MiB, as Redis's
// proto-max-bulk-len) and a set or hash of more members than it takes (2^24) are refused
// when written, with Redis's wording for a string, before anything changes: not in memory,
// not in the log, no key evicted for room. What was written within the limits opens again.
func TestAWritePastTheLogsLimitsIsRefusedAndTheLogStillOpens(t *testing.T) {
	lowLimits20(t, 16, 3, maxRecord)
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet, MaxKeys: 8})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 17)
	fits := strings.Repeat("y", 16)
	want := func(got any, w string, cmd ...string) {
		t.Helper()
		if b, isBulk := got.([]byte); isBulk {
			got = string(b)
		}
		if fmt.Sprint(got) != w {
			t.Errorf("%q: got %v, want %s", cmd, got, w)
		}
	}
	run := func(w string, cmd ...string) { t.Helper(); want(do(s, cmd...), w, cmd...) }
	tooLongErr := "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

	run("OK", "SET", "str", fits)
	run("3", "SADD", "set", "a", "b", "c")
	run("3", "HSET", "hash", "f1", "v", "f2", "v", "f3", "v")
	run("OK", "SET", "ttl", "v", "EX", "100")
	before := size20(t, path)

	refused := [][]string{
		{"SET", "str", long}, {"SET", "new", long, "EX", "100"}, {"SET", long, "v"}, {"SETNX", "new", long},
		{"SADD", "set", long}, {"SADD", "new", long}, {"HSET", "hash", "f1", long}, {"HSET", "hash", long, "v"},
		{"HSET", "new", "f", long},
	}
	for _, cmd := range refused {
		run(tooLongErr, cmd...)
	}
	tooMany := []string{
		"SADD set d", "SADD set a d", "SADD new a b c d", "HSET hash f4 v", "HSET hash f1 w f4 v", "HSET new a 1 b 2 c 3 d 4",
	}
	for _, cmd := range tooMany {
		r := do(s, strings.Fields(cmd)...)
		if err, isErr := r.(error); !isErr || !strings.Contains(err.Error(), "at most 3 members") {
			t.Errorf("%s: got %v, want the error of a set or hash past the log's limit", cmd, r)
		}
	}
	// Within the limits, as before: a member already there, a field changed, a value as long
	// as the limit, duplicates counted once.
	run("0", "SADD", "set", "a", "b", "a")
	run("0", "HSET", "hash", "f1", fits, "f1", "w")
	run("3", "SADD", "other", "p", "q", "r", "p")
	if after := size20(t, path); after == before {
		t.Error("the writes within the limits were not logged")
	}
	before = size20(t, path)
	for _, cmd := range refused {
		do(s, cmd...)
	}
	for _, cmd := range tooMany {
		do(s, strings.Fields(cmd)...)
	}
	if after := size20(t, path); after != before {
		t.Errorf("refused writes were logged: the log grew from %d to %d bytes", before, after)
	}
	run("0", "EXISTS", "new")
	run("1", "EXISTS", "ttl")
	run(fits, "GET", "str")

	// In a transaction, as in Redis: the refused command answers its error, the others run.
	out := s.DoAll([][][]byte{{[]byte("SET"), []byte("m1"), []byte("1")}, {[]byte("SET"), []byte("m2"), []byte(long)},
		{[]byte("SADD"), []byte("set"), []byte("z")}, {[]byte("SET"), []byte("m3"), []byte("3")}})
	want(out[0], "OK", "MULTI SET m1")
	want(out[1], tooLongErr, "MULTI SET m2")
	if err, isErr := out[2].(error); !isErr || !strings.Contains(err.Error(), "at most 3 members") {
		t.Errorf("MULTI SADD past the limit: got %v", out[2])
	}
	want(out[3], "OK", "MULTI SET m3")

	s = reopen20(t, s, path, c)
	run(fits, "GET", "str")
	run("3", "SCARD", "set")
	run("w", "HGET", "hash", "f1")
	run("3", "HLEN", "hash")
	run("3", "SCARD", "other")
	run("1", "GET", "m1")
	run("3", "GET", "m3")
	run("0", "EXISTS", "m2", "new")
}

// A set or hash whose record would pass what one frame of the log holds (its length is 32
// bits; compaction writes a key's record whole into one frame) is refused too: a set that
// grew a member at a time is logged in small deltas, but compacted whole.
func TestASetOrHashPastTheLogsRecordSizeIsRefused(t *testing.T) {
	lowLimits20(t, maxLength, maxMembers, 1000)
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	member := strings.Repeat("m", 200)
	added := 0
	var refusal any
	for i := range 10 {
		r := do(s, "SADD", "set", fmt.Sprint(i, member))
		if r != any(int64(1)) {
			refusal = r
			break
		}
		added++
	}
	if err, isErr := refusal.(error); !isErr || !strings.Contains(err.Error(), "1000 bytes") {
		t.Fatalf("SADD past the record size: got %v after %d members, want a refusal", refusal, added)
	}
	if r := do(s, "HSET", "hash", "f", strings.Repeat("v", 1000)); fmt.Sprint(r) == "1" {
		t.Error("HSET of a hash past the record size was accepted")
	}
	if r := do(s, "EXISTS", "hash"); r != any(int64(0)) {
		t.Errorf("the refused HSET left its hash: EXISTS %v", r)
	}
	s = reopen20(t, s, path, c)
	if r := do(s, "SCARD", "set"); r != any(int64(added)) {
		t.Errorf("SCARD after a restart: %v, want %d", r, added)
	}
}

// A log read whole whose compaction at the start fails (a full disk: here a directory stands
// where the new log would be written) no longer stops the store from opening: it opens as it
// goes on after a write fails, reads served, writes and PING refused (TRYAGAIN), nothing
// written, the old log left as it is, until the log is rewritten; then writes are accepted
// and a restart has both the old keys and the new.
func TestAFullDiskAtTheStartOpensTheStoreFailedNotAtAll(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	do(s, "SET", "session", "alice")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Path: path, Now: c.Now, Log: quiet})
	if err != nil {
		t.Fatalf("the store does not open although its log was read whole: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if r := do(s, "GET", "session"); fmt.Sprintf("%s", r) != "alice" {
		t.Errorf("GET session: %v, want alice", r)
	}
	wantOutage(t, "SET", do(s, "SET", "new", "v"))
	wantOutage(t, "PING", do(s, "PING"))
	if r := do(s, "EXISTS", "new"); r != any(int64(0)) {
		t.Errorf("a refused SET left its key: EXISTS %v", r)
	}
	if now, _ := os.ReadFile(path); string(now) != string(old) {
		t.Error("the log was changed while failed")
	}
	if err := os.Remove(path + ".tmp"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	err = s.log.recover(s)
	s.mu.Unlock()
	if err != nil {
		t.Fatalf("recover with room again: %v", err)
	}
	if r := do(s, "SET", "new", "v"); r != any(ok) {
		t.Fatalf("SET after the log was rewritten: %v", r)
	}
	s = reopen20(t, s, path, c)
	for k, want := range map[string]string{"session": "alice", "new": "v"} {
		if r := do(s, "GET", k); fmt.Sprintf("%s", r) != want {
			t.Errorf("after a restart GET %s: %v, want %s", k, r, want)
		}
	}
}
