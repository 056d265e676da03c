package embedded

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A log that outgrew the data is rewritten while writes go on: between two chunks of the
// rewrite, random writes (every write command, in MULTI batches, with keys expiring and
// evicted at MaxKeys) are answered, and the rewritten log, once in place, brings back after a
// restart exactly what memory held. Before, the rewrite held the store's lock from start to
// end, inside the write that crossed the threshold: at a million sessions every command, PING
// included, waited about 30 s on this machine.
func TestWritesGoOnWhileTheLogIsRewritten(t *testing.T) {
	chunk := rewriteChunk
	rewriteChunk = 5
	t.Cleanup(func() { rewriteChunk, betweenChunks = chunk, nil })
	for seed := range uint64(20) {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return at }
		path := filepath.Join(t.TempDir(), "kv.aof")
		opt := Options{Path: path, MaxKeys: 40, Keep: []string{"rl:"}, Now: clock, SweepEvery: time.Hour, Log: quiet}
		s, err := Open(opt)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 19))
		command := func() string {
			k, m := "k"+strconv.Itoa(rng.IntN(50)), strconv.Itoa(rng.IntN(6))
			if rng.IntN(8) == 0 {
				k = "rl:" + k
			}
			ttl := strconv.Itoa(1 + rng.IntN(100))
			return [...]string{
				"SET " + k + " " + m, "SET " + k + " " + m + " EX " + ttl, "SET " + k + " " + m + " NX", "SET " + k + " " + m + " XX KEEPTTL",
				"GETDEL " + k, "DEL " + k, "INCRBY " + k + " " + m, "EXPIRE " + k + " " + ttl, "PEXPIRE " + k + " " + ttl + "000 GT",
				"PERSIST " + k, "SADD " + k + " " + m + " x", "SADD " + k + " " + m, "SREM " + k + " " + m, "HSET " + k + " " + m + " " + ttl,
				"HDEL " + k + " " + m, "EXPIRE " + k + " 0",
			}[rng.IntN(16)]
		}
		batch := func() {
			var cmds []string
			for range 1 + rng.IntN(3) {
				cmds = append(cmds, command())
			}
			s.DoAll(args(cmds...))
			at = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		}
		for range 200 {
			batch()
		}
		chunks := 0
		betweenChunks = func() {
			chunks++
			for range 1 + rng.IntN(6) {
				batch() // would wait forever for a lock the rewrite held
			}
		}
		s.mu.Lock()
		before := s.log.size
		if err := s.log.startRewrite(s); err != nil {
			t.Fatal(err)
		}
		done := s.log.rw.done
		s.mu.Unlock()
		<-done
		betweenChunks = nil
		s.mu.Lock()
		after, running := s.log.size, s.log.rw != nil
		s.mu.Unlock()
		if chunks == 0 || running || after >= before {
			t.Fatalf("seed %d: %d chunks, rewrite still running %v, log of %d bytes after, %d before", seed, chunks, running, after, before)
		}
		batch() // appended to the new log
		s.Sweep()
		want := memory(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := filepath.Glob(path + rewritePattern); len(left) > 0 {
			t.Errorf("seed %d: files left beside the log: %v", seed, left)
		}
		again, err := Open(opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := memory(t, again); got != want {
			t.Fatalf("seed %d: after a rewrite with writes between its %d chunks and a restart the store holds\n%s\nwant what memory held\n%s", seed, chunks, got, want)
		}
		again.Close()
	}
}

// A rewrite under way is abandoned by Close: the log is fsynced as it is, and the rewrite's
// file removed.
func TestARewriteUnderWayIsAbandonedCleanly(t *testing.T) {
	chunk := rewriteChunk
	rewriteChunk = 1
	t.Cleanup(func() { rewriteChunk, betweenChunks = chunk, nil })
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		do(s, "SET", "k"+strconv.Itoa(i), "v")
	}
	closed := make(chan error)
	betweenChunks = func() {
		betweenChunks = nil
		go func() { closed <- s.Close() }()
		for {
			s.mu.Lock()
			stopped := s.log.rw == nil
			s.mu.Unlock()
			if stopped {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	s.mu.Lock()
	s.log.startRewrite(s)
	s.mu.Unlock()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + rewritePattern); len(left) > 0 {
		t.Errorf("files left beside the log after Close: %v", left)
	}
	r, err := Open(Options{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := r.Len(); n != 10 {
		t.Fatalf("after a Close that abandoned a rewrite, %d keys, want 10", n)
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte(aofHeader)) {
		t.Fatalf("the log starts %q", b[:min(len(b), 16)])
	}
}

// A log that fails while a rewrite is under way (a full disk) is not replaced by that rewrite:
// the write whose record failed is undone and refused, the rewrite is dropped, and recovery
// rewrites the log from memory; a restart then finds what memory held.
func TestALogFailingDuringARewriteIsRecoveredFromMemory(t *testing.T) {
	chunk := rewriteChunk
	rewriteChunk = 2
	t.Cleanup(func() { rewriteChunk, betweenChunks = chunk, nil })
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		do(s, "SET", "k"+strconv.Itoa(i), "v")
	}
	calls := 0
	betweenChunks = func() {
		calls++
		switch calls {
		case 1:
			do(s, "SET", "before", "1")
			failLog(t, s, path, false)
			wantOutage(t, "a write after the log failed", do(s, "SET", "failed", "1"))
		}
	}
	s.mu.Lock()
	s.log.startRewrite(s)
	done := s.log.rw.done
	s.mu.Unlock()
	<-done
	s.mu.Lock()
	err = s.log.recover(s)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	do(s, "SET", "after", "1")
	want := memory(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + rewritePattern); len(left) > 0 {
		t.Errorf("files left beside the log: %v", left)
	}
	r, err := Open(Options{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := memory(t, r); got != want || do(r, "EXISTS", "failed") != any(int64(0)) || do(r, "EXISTS", "before", "after") != any(int64(2)) {
		t.Fatalf("after a failure during a rewrite and a restart the store holds\n%s\nwant\n%s", got, want)
	}
}
