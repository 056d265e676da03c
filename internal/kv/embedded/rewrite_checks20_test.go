package embedded

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// live20 is what s holds at now, keys expired by then left out (a restart drops them); s.mu
// is held.
func live20(s *Store, now int64) string {
	var lines []string
	for k, e := range s.m {
		if e.exp != 0 && e.exp <= now {
			continue
		}
		var v string
		switch e.kind {
		case kindString:
			v = fmt.Sprintf("string %q", e.str)
		case kindSet:
			var ms []string
			for m := range e.set {
				ms = append(ms, m)
			}
			slices.Sort(ms)
			v = fmt.Sprintf("set %q", ms)
		case kindHash:
			var fs []string
			for f, x := range e.hash {
				fs = append(fs, f+"="+string(x))
			}
			slices.Sort(fs)
			v = fmt.Sprintf("hash %q", fs)
		}
		lines = append(lines, fmt.Sprintf("%s: %s exp=%d", k, v, e.exp))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Writers running at once with background rewrites (several in a row, a few keys per chunk),
// the sweep and eviction: at any moment, the log file as it is (a crash of the process then)
// brings back after a restart exactly the live keys memory held, keys deleted, evicted or
// expired after their chunk included; so does the log after Close.
func TestALogRewrittenUnderConcurrentWritesAlwaysReplaysMemory20(t *testing.T) {
	chunk := rewriteChunk
	rewriteChunk = 3
	t.Cleanup(func() { rewriteChunk, betweenChunks = chunk, nil })
	betweenChunks = runtime.Gosched
	for seed := range uint64(4) {
		c := newClock()
		path := filepath.Join(t.TempDir(), "kv.aof")
		opt := Options{Path: path, MaxKeys: 60, Keep: []string{"rl:"}, EvictFirst: []string{"ev:"}, Now: c.Now, SweepEvery: time.Millisecond, Log: quiet}
		s, err := Open(opt)
		if err != nil {
			t.Fatal(err)
		}
		command := func(rng *rand.Rand) string {
			k, m := "k"+strconv.Itoa(rng.IntN(80)), strconv.Itoa(rng.IntN(6))
			switch rng.IntN(10) {
			case 0:
				k = "rl:" + k
			case 1:
				k = "ev:" + k
			}
			ttl := strconv.Itoa(1 + rng.IntN(60))
			return [...]string{
				"SET " + k + " " + m, "SET " + k + " " + m + " EX " + ttl, "SET " + k + " " + m + " NX", "SET " + k + " " + m + " XX KEEPTTL",
				"GETDEL " + k, "DEL " + k, "INCRBY " + k + " " + m, "EXPIRE " + k + " " + ttl, "PEXPIRE " + k + " " + ttl + "000 GT",
				"EXPIRE " + k + " " + ttl + " NX", "PERSIST " + k, "SADD " + k + " " + m + " x", "SADD " + k + " " + m, "SREM " + k + " " + m,
				"HSET " + k + " " + m + " " + ttl, "HDEL " + k + " " + m, "EXPIRE " + k + " 0", "SADD " + k + " " + m + " " + ttl,
			}[rng.IntN(18)]
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					var cmds []string
					for range 1 + rng.IntN(3) {
						cmds = append(cmds, command(rng))
					}
					s.DoAll(args(cmds...))
					c.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
				}
			}()
		}
		type crash struct {
			log  []byte
			now  int64
			want string
		}
		var crashes []crash
		snapshot := func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			now := s.nowMs()
			crashes = append(crashes, crash{b, now, live20(s, now)})
		}
		for range 6 {
			s.mu.Lock()
			if s.log.rw == nil {
				if err := s.log.startRewrite(s); err != nil {
					s.mu.Unlock()
					t.Fatal(err)
				}
			}
			done := s.log.rw.done
			s.mu.Unlock()
			for running := true; running; {
				select {
				case <-done:
					running = false
				default:
					snapshot()
					time.Sleep(200 * time.Microsecond)
				}
			}
			snapshot()
		}
		close(stop)
		wg.Wait()
		snapshot()
		final := crashes[len(crashes)-1]
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := filepath.Glob(path + rewritePattern); len(left) > 0 {
			t.Errorf("seed %d: files left beside the log: %v", seed, left)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		crashes = append(crashes, crash{b, final.now, final.want})
		for i, cr := range crashes {
			p := filepath.Join(t.TempDir(), "crash.aof")
			if err := os.WriteFile(p, cr.log, 0o600); err != nil {
				t.Fatal(err)
			}
			at := time.UnixMilli(cr.now)
			r, err := Open(Options{Path: p, MaxKeys: 60, Keep: []string{"rl:"}, EvictFirst: []string{"ev:"}, Now: func() time.Time { return at }, SweepEvery: time.Hour, Log: quiet})
			if err != nil {
				t.Fatalf("seed %d, snapshot %d: %v", seed, i, err)
			}
			r.mu.Lock()
			got := live20(r, cr.now)
			r.mu.Unlock()
			r.Close()
			if got != cr.want {
				t.Fatalf("seed %d: the log at snapshot %d of %d, replayed, holds\n%s\nwant what memory held\n%s", seed, i, len(crashes), got, cr.want)
			}
		}
		t.Logf("seed %d: %d snapshots checked", seed, len(crashes))
	}
}

// Close during a background rewrite, with writers still running: the log as Close leaves it
// replays what memory held once the writers stopped (writes after Close are refused and
// undone), and no rewrite's file is left beside it.
func TestCloseDuringARewriteWithWritersRunningKeepsEveryWrite20(t *testing.T) {
	chunk := rewriteChunk
	rewriteChunk = 2
	t.Cleanup(func() { rewriteChunk, betweenChunks = chunk, nil })
	for seed := range uint64(6) {
		c := newClock()
		path := filepath.Join(t.TempDir(), "kv.aof")
		opt := Options{Path: path, MaxKeys: 60, Now: c.Now, SweepEvery: time.Millisecond, Log: quiet}
		s, err := Open(opt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			do(s, "SADD", "k"+strconv.Itoa(i), "a", "b")
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					k := "k" + strconv.Itoa(rng.IntN(50))
					switch rng.IntN(4) {
					case 0:
						do(s, "DEL", k)
					case 1:
						do(s, "SADD", k, strconv.Itoa(rng.IntN(9)))
					case 2:
						do(s, "EXPIRE", k, strconv.Itoa(1+rng.IntN(3)))
					default:
						do(s, "SREM", k, "a")
					}
					c.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
				}
			}()
		}
		chunks, closeAt := 0, 1+int(seed)
		closed := make(chan error, 1)
		betweenChunks = func() {
			if chunks++; chunks == closeAt {
				go func() { closed <- s.Close() }()
			}
			runtime.Gosched()
		}
		s.mu.Lock()
		if err := s.log.startRewrite(s); err != nil {
			t.Fatal(err)
		}
		done := s.log.rw.done
		s.mu.Unlock()
		<-done
		betweenChunks = nil
		if chunks < closeAt {
			go func() { closed <- s.Close() }()
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		s.mu.Lock()
		now := s.nowMs()
		want := live20(s, now)
		s.mu.Unlock()
		if left, _ := filepath.Glob(path + rewritePattern); len(left) > 0 {
			t.Errorf("seed %d: files left beside the log: %v", seed, left)
		}
		at := time.UnixMilli(now)
		r, err := Open(Options{Path: path, MaxKeys: 60, Now: func() time.Time { return at }, SweepEvery: time.Hour, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		got := live20(r, now)
		r.mu.Unlock()
		r.Close()
		if got != want {
			t.Fatalf("seed %d: after Close at chunk %d of a rewrite and a restart the store holds\n%s\nwant\n%s", seed, closeAt, got, want)
		}
	}
}
