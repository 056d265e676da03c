package embedded

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memory is the data s holds, one line per key (kind, value, deadline), after checking that
// its bookkeeping agrees with it: each key's size and the total, and each deadline's place
// in the expiry heap of its kind (kept or not).
func memory(t *testing.T, s *Store) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	var total, records, cappedBytes int64
	cappedKeys := 0
	for k, e := range s.m {
		if e.key != k {
			t.Errorf("key %q holds the entry of %q", k, e.key)
		}
		if size := e.measure(); e.size != size {
			t.Errorf("key %q: size %d, measured %d", k, e.size, size)
		}
		total += e.size
		if rec := e.recordSize(); e.rec != rec {
			t.Errorf("key %q: record size %d, estimated %d", k, e.rec, rec)
		}
		records += e.rec
		if e.capped {
			cappedKeys++
			cappedBytes += e.size
		}
		h := s.heapOf(e)
		switch {
		case e.kept != s.kept(k):
			t.Errorf("key %q: kept %v", k, e.kept)
		case e.hidx >= len(*h) || e.hidx >= 0 && (*h)[e.hidx].e != e:
			t.Errorf("key %q: heap index %d is not its place", k, e.hidx)
		case e.exp != 0 && (e.hidx < 0 || e.hexp > e.exp):
			t.Errorf("key %q: deadline %d, not in its heap before it (index %d, at %d)", k, e.exp, e.hidx, e.hexp)
		}
		var v string
		switch e.kind {
		case kindString:
			v = fmt.Sprintf("string %q", e.str)
		case kindSet:
			v = fmt.Sprintf("set %q", slices.Sorted(func(yield func(string) bool) {
				for m := range e.set {
					if !yield(m) {
						return
					}
				}
			}))
		case kindHash:
			var fields []string
			for f, x := range e.hash {
				fields = append(fields, f+"="+string(x))
			}
			slices.Sort(fields)
			v = fmt.Sprintf("hash %q", fields)
		}
		lines = append(lines, fmt.Sprintf("%s: %s exp=%d", k, v, e.exp))
	}
	if total != s.bytes {
		t.Errorf("store bytes %d, its keys' sizes add up to %d", s.bytes, total)
	}
	if records != s.logBytes {
		t.Errorf("store log bytes %d, its keys' record sizes add up to %d", s.logBytes, records)
	}
	if cappedKeys != s.cappedKeys || cappedBytes != s.cappedBytes {
		t.Errorf("store capped keys %d of %d bytes, counted %d of %d bytes", s.cappedKeys, s.cappedBytes, cappedKeys, cappedBytes)
	}
	for _, h := range []*expHeap{&s.h, &s.hk} {
		for i, it := range *h {
			if it.e.hidx != i || s.m[it.e.key] != it.e {
				t.Errorf("heap item %d (%q, index %d) is not a key held", i, it.e.key, it.e.hidx)
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// args turns commands written as strings ("SET k v") into DoAll's arguments.
func args(cmds ...string) [][][]byte {
	out := make([][][]byte, len(cmds))
	for i, c := range cmds {
		for _, a := range strings.Fields(c) {
			out[i] = append(out[i], []byte(a))
		}
	}
	return out
}

// A write whose record cannot be written to the log (a full or failing disk) answers an
// error and leaves memory as it was before it: readers never see a value that a restart would
// not bring back, and once the log is rewritten it agrees with memory. Every write command is
// here, with its options; the store is at MaxKeys and near MaxBytes, so that the writes that
// add a key or bytes first evict (the evicted keys come back too). Each command is run first
// with a healthy log, to show that it changes something. Before, the write stayed in memory:
// readers saw it until a restart, and a restart took it away.
func TestLogWriteFailureLeavesMemoryAsItWas(t *testing.T) {
	big := strings.Repeat("x", 3200)
	for _, tc := range []struct {
		name string
		cmds []string // one command, or a MULTI … EXEC
	}{
		{"SET", []string{"SET str v2"}},
		{"SET EX", []string{"SET str v2 EX 5"}},
		{"SET KEEPTTL", []string{"SET str v2 KEEPTTL"}},
		{"SET XX", []string{"SET plain v2 XX PX 5000"}},
		{"SET NX of a new key, evicting", []string{"SET new v NX EX 50"}},
		{"SET over a set", []string{"SET set v"}},
		{"SET past MaxBytes, evicting several keys", []string{"SET plain " + big}},
		{"SETNX, evicting", []string{"SETNX new v"}},
		{"GETDEL", []string{"GETDEL str"}},
		{"DEL", []string{"DEL str set nothing"}},
		{"UNLINK", []string{"UNLINK hash"}},
		{"INCR", []string{"INCR n"}},
		{"INCRBY", []string{"INCRBY rl:c 5"}},
		{"INCR of a new key, evicting", []string{"INCR new"}},
		{"EXPIRE", []string{"EXPIRE set 10"}},
		{"PEXPIRE GT", []string{"PEXPIRE str 500000 GT"}},
		{"PEXPIRE NX", []string{"PEXPIRE plain 5000 NX"}},
		{"EXPIRE 0 deletes", []string{"EXPIRE str 0"}},
		{"PERSIST", []string{"PERSIST set"}},
		{"SADD", []string{"SADD set b c d"}},
		{"SADD of a new key, evicting", []string{"SADD newset m"}},
		{"SREM", []string{"SREM set a zz"}},
		{"SREM of the last member", []string{"SREM one x"}},
		{"HSET", []string{"HSET hash f 9 h 10"}},
		{"HSET of a new key, evicting", []string{"HSET newh a b"}},
		{"HDEL", []string{"HDEL hash f"}},
		{"HDEL of the last field", []string{"HDEL h1 only"}},
		{"FLUSHDB", []string{"FLUSHDB"}},
		{"FLUSHALL", []string{"FLUSHALL"}},
		{"MULTI on one key and others, evicting", []string{
			"DEL str", "SET str w EX 7", "SADD set z", "EXPIRE set 1", "SREM set a", "HDEL hash g",
			"HSET hash g 3", "INCR rl:c", "SADD newset m", "GETDEL plain", "SET plain again",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			open := func(path string) *Store {
				s, err := Open(Options{Path: path, MaxKeys: 8, MaxBytes: 5632, Keep: []string{"rl:"},
					Now: func() time.Time { return at }, SweepEvery: time.Hour, Log: quiet})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			fixture := func(path string) *Store {
				s := open(path)
				for _, c := range args("SET str v1 EX 100", "SET plain p", "SET n 41", "SADD set a b", "PEXPIRE set 100000",
					"HSET hash f 1 g 2", "SADD one x", "EXPIRE one 200", "HSET h1 only 1", "SET rl:c 3 EX 60") {
					if r, isErr := s.Do(c...).(error); isErr {
						t.Fatalf("%s: %v", c, r)
					}
				}
				return s
			}
			dir := t.TempDir()

			healthy := fixture(filepath.Join(dir, "healthy.aof"))
			before := memory(t, healthy)
			for i, r := range healthy.DoAll(args(tc.cmds...)) {
				if err, isErr := r.(error); isErr {
					t.Fatalf("%.40s with a healthy log: %v", tc.cmds[i], err)
				}
			}
			if memory(t, healthy) == before {
				t.Fatal("the commands change nothing with a healthy log")
			}
			if evicts := strings.Contains(tc.name, "evicting"); evicts != (healthy.Evicted > 0) {
				t.Fatalf("with a healthy log the commands evicted %d keys", healthy.Evicted)
			}
			healthy.Close()

			path := filepath.Join(dir, "kv.aof")
			s := fixture(path)
			want := memory(t, s)
			unblock := failLog(t, s, path, true)
			for i, r := range s.DoAll(args(tc.cmds...)) {
				wantOutage(t, fmt.Sprintf("%.40s", tc.cmds[i]), r)
			}
			if got := memory(t, s); got != want {
				t.Errorf("after the log write failed, memory holds\n%s\nwant it as before\n%s", got, want)
			}

			unblock()
			if err := s.Close(); err != nil { // rewrites the log from memory
				t.Fatal(err)
			}
			again := open(path)
			defer again.Close()
			if got := memory(t, again); got != want {
				t.Errorf("after the log was rewritten and the store opened again, it holds\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// Random writes to a few keys, single and in MULTI batches, past MaxKeys, with the log
// failing under a third of them: each failed write leaves memory exactly as it was (its
// bookkeeping too), the log is rewritten and writes go on, and a restart finds what memory
// held.
func TestLogWriteFailureRollbackRandomWrites(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, MaxKeys: 6, Keep: []string{"rl:"}, Now: clock, SweepEvery: time.Hour, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"a", "b", "c", "d", "e", "rl:f", "rl:g", "h"}
	command := func() string {
		k, m := keys[rng.IntN(len(keys))], strconv.Itoa(rng.IntN(6))
		ttl := strconv.Itoa(1 + rng.IntN(1000))
		return [...]string{
			"SET " + k + " " + m, "SET " + k + " " + m + " EX " + ttl, "SET " + k + " " + m + " NX", "SET " + k + " " + m + " XX KEEPTTL",
			"GETDEL " + k, "DEL " + k, "INCRBY " + k + " " + m, "EXPIRE " + k + " " + ttl, "PEXPIRE " + k + " " + ttl + " LT",
			"PERSIST " + k, "SADD " + k + " " + m + " x", "SREM " + k + " " + m, "HSET " + k + " " + m + " " + ttl,
			"HDEL " + k + " " + m, "EXPIRE " + k + " 0", "FLUSHDB",
		}[rng.IntN(16)]
	}
	for i := range 1500 {
		var cmds []string
		for range 1 + rng.IntN(4) {
			cmds = append(cmds, command())
		}
		if rng.IntN(3) > 0 {
			s.DoAll(args(cmds...))
			continue
		}
		want := memory(t, s)
		failLog(t, s, path, false)
		replies := s.DoAll(args(cmds...))
		s.mu.Lock()
		failed := s.log.err != nil
		s.mu.Unlock()
		for j, r := range replies {
			if err, isErr := r.(error); failed && (!isErr || !strings.HasPrefix(err.Error(), "TRYAGAIN ")) {
				t.Fatalf("write %d, %q: reply %d = %v, want TRYAGAIN", i, cmds, j, r)
			}
		}
		// Without a failure, the commands changed nothing and wrote no record.
		if got := memory(t, s); got != want {
			t.Fatalf("write %d, %q failed to log; memory holds\n%s\nwant it as before\n%s", i, cmds, got, want)
		}
		s.mu.Lock()
		if !failed {
			s.log.fail(os.ErrClosed) // so that recover replaces the closed file all the same
		}
		err := s.log.recover(s)
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	want := memory(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(Options{Path: path, MaxKeys: 6, Keep: []string{"rl:"}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := memory(t, again); got != want {
		t.Fatalf("after a restart the store holds\n%s\nwant what memory held\n%s", got, want)
	}
}

// A command refused for want of room (OOM) changes nothing, as the package promises: an HSET
// or SADD of several that ran out after some of its fields or members, and the keys it
// evicted on the way, are as before, in memory and after a restart; nothing of it is logged.
func TestACommandOutOfRoomChangesNothing(t *testing.T) {
	big := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name string
		cmd  []string
	}{
		{"HSET of two fields, the second too big", []string{"HSET", "h", "f1", "x", "f2", big}},
		{"HSET of a new field on an existing hash", []string{"HSET", "old-hash", "f1", "y", "f2", big}},
		{"SADD of three members, the third too big", []string{"SADD", "s", "a", "b", big}},
		{"SET too big after evicting", []string{"SET", "new", big + big}},
	} {
		for _, logged := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, logged %v", tc.name, logged), func(t *testing.T) {
				opts := Options{MaxBytes: 1536, Log: quiet}
				if logged {
					opts.Path = filepath.Join(t.TempDir(), "kv.aof")
				}
				s := mustOpen(t, opts)
				if r := do(s, "HSET", "old-hash", "f0", "v"); r != any(int64(1)) {
					t.Fatalf("HSET old-hash: %v", r)
				}
				if r := do(s, "SET", "evictable", "v", "EX", "100"); r != any(ok) {
					t.Fatalf("SET evictable: %v", r)
				}
				before := memory(t, s)
				if r := do(s, tc.cmd...); r != any(ErrFull) {
					t.Fatalf("%q = %v, want ErrFull", tc.cmd, r)
				}
				if got := memory(t, s); got != before {
					t.Fatalf("%q refused for want of room changed memory:\n%s\nwant\n%s", tc.cmd, got, before)
				}
				if !logged {
					return
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				again := mustOpen(t, opts)
				if got := memory(t, again); got != before {
					t.Fatalf("after a restart the store holds\n%s\nwant\n%s", got, before)
				}
			})
		}
	}
}
