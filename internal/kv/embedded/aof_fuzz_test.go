package embedded

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// The log is read back at every start, and a file is any bytes once a disk or a person has had
// its way with it. The targets here assert what Open promises whatever it finds: it loads or
// refuses, never panics, allocates in proportion to the file, leaves a refused file as it was,
// and a log it loaded loads again the same once rewritten; a valid log that was damaged loads
// only if what it lost is a torn end. `go test` runs the seeds below; `go test -run '^$' -fuzz
// FuzzOpenLog ./internal/kv/embedded` searches for more.

// fuzzNow is the clock of the targets: nothing expires between writing a log and reading it.
var fuzzNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// openAllocBound is what Open may allocate for a log of n bytes: its buffers (a reader and a
// writer of 1 MiB, a compaction frame), and a bounded multiple of the data (a key of one byte
// costs an entry, a map slot and a heap item).
func openAllocBound(n int) uint64 { return 8<<20 + 512*uint64(n) }

// FuzzOpenLog opens any bytes as a log: as they are, or after a header of each version (for
// version 3, sealed as one frame, so that the records reach the reader past the checksums).
func FuzzOpenLog(f *testing.F) {
	v2, err := os.ReadFile("testdata/kv-v2.aof")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(byte(0), v2)
	f.Add(byte(2), v2[len(aofHeaderV2):])
	f.Add(byte(1), []byte{opPut, 1, 'k', kindString, 0, 1, 'v', opDel, 1, 'k'})
	f.Add(byte(1), []byte{opPut, 1, 's', kindSet, 0, 2, 1, 'a', 1, 'b', opDelta, 1, 's', 0, 1, 1, 'c'})
	f.Add(byte(1), []byte{opPut, 1, 'h', kindHash, 0, 1, 1, 'f', 1, 'v'})
	f.Add(byte(3), []byte{opPut, 1, 'k', kindString, 0, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(byte(0), []byte(aofHeader+"\x05\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, version byte, data []byte) {
		var log []byte
		switch version % 4 {
		case 0:
			log = data
		case 1:
			frame := append(make([]byte, frameHead), data...)
			seal(frame)
			log = append([]byte(aofHeader), frame...)
		case 2:
			log = append([]byte(aofHeaderV2), data...)
		case 3:
			log = append([]byte(aofHeaderV1), data...)
		}
		path := filepath.Join(t.TempDir(), "kv.aof")
		if err := os.WriteFile(path, log, 0o600); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := loadLog(path)
		runtime.ReadMemStats(&after)
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > openAllocBound(len(log)) {
			t.Errorf("reading a log of %d bytes allocated %d bytes", len(log), allocated)
		}
		if err != nil {
			return
		}
		defer s.Close()
		loaded := memory(t, s)
		if len(s.m) == 0 {
			return
		}
		// What loaded is what the log is rewritten with (compaction); that loads the same.
		l := &aof{path: path, log: quiet}
		if err := l.compact(s); err != nil {
			t.Fatal(err)
		}
		l.f.Close()
		r, err := loadLog(path)
		if err != nil {
			t.Fatalf("the log written from what loaded does not load: %v", err)
		}
		defer r.Close()
		if again := memory(t, r); again != loaded {
			t.Fatalf("the log loaded\n%s\nand, rewritten, loads\n%s", loaded, again)
		}
	})
}

// withLog opens a store on opt whose log is a new file at path, as Open would but for the
// fsyncs, which would make a fuzz target slow; closing it fsyncs nothing.
func withLog(t *testing.T, path string, opt Options) *Store {
	t.Helper()
	s, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(aofHeader)
	s.log = &aof{path: path, log: quiet, f: f, size: int64(len(aofHeader)), buf: make([]byte, frameHead, 4096)}
	t.Cleanup(func() {
		s.mu.Lock()
		s.log.f.Close()
		s.log = nil
		s.mu.Unlock()
		s.Close()
	})
	return s
}

// loadLog reads the log at path into a new store (with the Keep prefixes keep), as Open does
// before it compacts: the store has no log of its own, and the file is not written.
func loadLog(path string, keep ...string) (*Store, error) {
	s, err := Open(Options{Now: func() time.Time { return fuzzNow }, SweepEvery: time.Hour, Keep: keep, Log: quiet})
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		s.Close()
		return nil, err
	}
	defer f.Close()
	if err := (&aof{path: path, log: quiet}).load(f, s); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// fuzzCommand turns b into commands for the store: a byte picks the command, then arguments
// follow, one a byte each from a few keys, members and numbers, so that the commands meet on
// the same keys. It returns the commands of one commit (more than one: a MULTI … EXEC) and
// what is left of b.
func fuzzCommands(b []byte) ([][][]byte, []byte) {
	names := []string{"SET", "SET", "DEL", "SADD", "SREM", "HSET", "HDEL", "PEXPIRE", "PERSIST", "INCR", "GETDEL", "SETNX", "FLUSHDB", "EXPIRE"}
	values := []string{"k0", "k1", "k2", "rl:k", "a", "b", "", "3600000", "1", "-5", "0", "EX", "PX", "KEEPTTL", "NX", "XX", "GT", "LT",
		"9223372036854775807", "-9223372036854775808", "42"}
	var cmds [][][]byte
	n := 1
	if len(b) > 0 && b[0] >= 0xf0 { // a transaction of several
		n, b = int(b[0]-0xf0)+2, b[1:]
	}
	for range n {
		if len(b) == 0 {
			break
		}
		cmd := [][]byte{[]byte(names[int(b[0]>>3)%len(names)])}
		argc := int(b[0]&7) + 1
		b = b[1:]
		for ; argc > 0 && len(b) > 0; argc-- {
			cmd = append(cmd, []byte(values[int(b[0])%len(values)]))
			b = b[1:]
		}
		cmds = append(cmds, cmd)
	}
	return cmds, b
}

// FuzzCommands runs any sequence of writes, then checks that the store's bookkeeping agrees
// with its data and that its log brings back exactly what it holds.
func FuzzCommands(f *testing.F) {
	f.Add([]byte{0x01, 0, 4, 0x1a, 1, 4, 5, 0x29, 2, 4, 5, 0x3a, 1, 7, 0x11, 0})
	f.Add([]byte{0xf1, 0x19, 0, 4, 0x3a, 0, 7, 0x4a, 0, 18})
	f.Add([]byte{0x03, 0, 4, 12, 18, 0x3a, 0, 19, 0x49, 3, 0x70, 0, 18})
	f.Fuzz(func(t *testing.T, ops []byte) {
		path := filepath.Join(t.TempDir(), "kv.aof")
		s := withLog(t, path, Options{Now: func() time.Time { return fuzzNow }, SweepEvery: time.Hour, MaxKeys: 3, Keep: []string{"rl:"}, Log: quiet})
		for len(ops) > 0 {
			var cmds [][][]byte
			cmds, ops = fuzzCommands(ops)
			if len(cmds) == 1 {
				s.Do(cmds[0]...)
			} else {
				s.DoAll(cmds)
			}
		}
		want := memory(t, s)
		r, err := loadLog(path, "rl:")
		if err != nil {
			t.Fatalf("the log does not load: %v", err)
		}
		defer r.Close()
		if got := memory(t, r); got != want {
			t.Fatalf("the store held\n%s\nand its log brings back\n%s", want, got)
		}
	})
}

// FuzzLogDamage writes a log of the writes ops make, damages it as damage says (a changed
// byte, a cut, a run of zeros or of other bytes, bytes added at the end) and opens it. Open
// may refuse it; when it opens, it holds what the store held after one of its commits,
// every commit before the damage included, and the commits it dropped are a torn end: the
// file holds nothing but zeros past the first of them. Anything else brings back what a
// later commit deleted (a signed-out session, a used code) without a word.
func FuzzLogDamage(f *testing.F) {
	f.Add([]byte{0x01, 0, 4, 0x01, 1, 5, 0x10, 0, 0x19, 1, 4, 5, 0x3a, 1, 7}, []byte{0, 40, 0, 'X'})
	f.Add([]byte{0x01, 0, 4, 0x10, 0, 0x01, 2, 5}, []byte{1, 30, 0})
	f.Add([]byte{0x01, 0, 4, 0x10, 0, 0x01, 2, 5}, []byte{2, 28, 4})
	f.Add([]byte{0x01, 0, 4, 0x10, 0, 0x01, 2, 5}, []byte{3, 20, 3, 1, 2, 3})
	f.Add([]byte{0x01, 0, 4, 0x10, 0}, []byte{4, 0, 5, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, ops, damage []byte) {
		if len(damage) < 3 {
			return
		}
		path := filepath.Join(t.TempDir(), "kv.aof")
		s := withLog(t, path, Options{Now: func() time.Time { return fuzzNow }, SweepEvery: time.Hour, Log: quiet})
		// ends[i] is the size of the log after commit i (0: the header), states[i] what the
		// store held then.
		ends := []int64{s.log.size}
		states := []string{memory(t, s)}
		for len(ops) > 0 {
			var cmds [][][]byte
			cmds, ops = fuzzCommands(ops)
			s.DoAll(cmds)
			if s.log.size != ends[len(ends)-1] {
				ends = append(ends, s.log.size)
				states = append(states, memory(t, s))
			}
		}
		log, err := os.ReadFile(path)
		if err != nil || int64(len(log)) != ends[len(ends)-1] {
			t.Fatalf("the log is %d bytes (%v), want %d", len(log), err, ends[len(ends)-1])
		}

		damaged := bytes.Clone(log)
		at := int(damage[1]) | int(damage[2])<<8
		at %= len(log)
		switch damage[0] % 5 {
		case 0: // a changed byte
			damaged[at] ^= max(damage[len(damage)-1], 1)
		case 1: // cut
			damaged = damaged[:at]
		case 2: // zeros
			clear(damaged[at:min(len(damaged), at+1+int(damage[len(damage)-1]))])
		case 3: // other bytes
			copy(damaged[at:], damage[3:])
		case 4: // bytes added at the end
			damaged = append(damaged, damage[3:]...)
		}
		if bytes.Equal(damaged, log) {
			return
		}
		first := 0 // the first byte damaged (changed, cut or added)
		for first < min(len(log), len(damaged)) && log[first] == damaged[first] {
			first++
		}
		damagedPath := filepath.Join(filepath.Dir(path), "damaged.aof")
		os.WriteFile(damagedPath, damaged, 0o600)
		r, err := loadLog(damagedPath)
		if err != nil {
			var corrupt *corruptLogError
			if errors.As(err, &corrupt) && first >= len(aofHeader) {
				start := ends[0] // of the commit the damage is in
				for _, end := range ends {
					if end <= int64(first) {
						start = end
					}
				}
				if corrupt.offset != start {
					t.Errorf("damage at byte %d was reported at byte %d, not at the start of its frame, %d", first, corrupt.offset, start)
				}
			}
			return
		}
		got := memory(t, r)
		r.Close()
		loaded := -1
		for i := len(states) - 1; i >= 0; i-- {
			if states[i] == got {
				loaded = i
				break
			}
		}
		intact := 0 // the commits wholly before the damage
		for intact+1 < len(ends) && ends[intact+1] <= int64(first) {
			intact++
		}
		switch {
		case loaded < 0:
			t.Fatalf("damage at byte %d of %d: the store opened holding what it never held:\n%s", first, len(log), got)
		case loaded < intact:
			t.Fatalf("damage at byte %d: the store opened as after commit %d, losing commit %d before the damage", first, loaded, intact)
		case loaded < len(states)-1 && !onlyZeros(damaged[min(len(damaged), int(ends[loaded+1])):]):
			t.Fatalf("damage at byte %d: the store opened as after commit %d of %d, though the log goes on past commit %d:\n%q",
				first, loaded, len(states)-1, loaded+1, damaged[ends[loaded+1]:])
		}
	})
}

// A length in a record is read only as far as the log holds bytes: a log of 20 bytes claiming
// a value of 512 MiB, or a set of 16 million members, is refused or dropped as torn without
// allocating for the claim (FuzzOpenLog asserts the same bound for any bytes). Before, Open
// allocated 512 MiB for the value, and 0.9 GB (a set) or 1.6 GB (a hash) for the map sized
// by the count, in every version (in version 3 behind a valid checksum).
func TestLogLengthsAllocateNoMoreThanTheLogHolds(t *testing.T) {
	for name, records := range map[string][]byte{
		"a value of 512 MiB":        {opPut, 1, 'k', kindString, 0, 0x80, 0x80, 0x80, 0x80, 0x02},
		"a set of 16 million":       {opPut, 1, 's', kindSet, 0, 0x80, 0x80, 0x80, 0x08},
		"a hash of 16 million":      {opPut, 1, 'h', kindHash, 0, 0x80, 0x80, 0x80, 0x08},
		"a delta of 16 million":     {opDelta, 1, 's', 0, 0x80, 0x80, 0x80, 0x08},
		"a key of 512 MiB, deleted": {opDel, 0x80, 0x80, 0x80, 0x80, 0x02},
	} {
		for _, header := range []string{aofHeaderV2, aofHeaderV1, aofHeader} {
			log := append([]byte(header), records...)
			if header == aofHeader {
				frame := append(make([]byte, frameHead), records...)
				seal(frame)
				log = append([]byte(header), frame...)
			}
			path := filepath.Join(t.TempDir(), "kv.aof")
			os.WriteFile(path, log, 0o600)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, err := Open(Options{Path: path, SweepEvery: time.Hour, Log: quiet})
			runtime.ReadMemStats(&after)
			if err == nil {
				s.Close()
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > openAllocBound(len(log)) {
				t.Errorf("%s, %q: opening %d bytes allocated %s bytes", name, header[:len(header)-1], len(log), strconv.FormatUint(allocated, 10))
			}
		}
	}
}

// A log whose version digit lost a bit ("3" read as "2" or "1") does not open. Before, its
// frames were replayed as records of version 2: for some frame lengths (a value of 249 or 251
// bytes) they read as records, and the store opened without a word, empty here, having
// dropped the rest as a torn end.
func TestLogHeaderNamingAnOlderVersionOverFramesDoesNotOpen(t *testing.T) {
	for size := 240; size < 260; size++ {
		path := filepath.Join(t.TempDir(), "kv.aof")
		s, err := Open(Options{Path: path, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		do(s, "SET", "k", string(bytes.Repeat([]byte("v"), size)))
		do(s, "SET", "j", "w")
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, version := range []byte{'1', '2'} {
			b[len(aofHeader)-2] = version
			os.WriteFile(path, b, 0o600)
			if r, err := Open(Options{Path: path, Log: quiet}); err == nil {
				t.Errorf("a value of %d bytes, the header naming version %c: the log opened holding %d keys of 2", size, version, r.Len())
				r.Close()
			}
		}
	}
}
