package embedded

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The log is rewritten once it grows past four times the live data, as README says: here the
// size of the log when the rewrite starts over the size of the log it writes, for the keys
// LoginSign keeps (strings, hashes and sets with a TTL), is between 3.5 and 5. Before, the live
// data was the store's estimate of their memory (96 bytes a key, 48 a member, besides their
// bytes), two to four times their records' length: the rewrite started at 7 to 14 times.
func TestTheLogIsRewrittenAtFourTimesTheLiveData(t *testing.T) {
	at, chunk := compactAt, rewriteChunk
	compactAt, rewriteChunk = 64<<10, 100
	t.Cleanup(func() { compactAt, rewriteChunk, betweenChunks = at, chunk, nil })
	const keys = 1000
	for name, write := range map[string]func(s *Store, i, round int){
		"string": func(s *Store, i, round int) {
			do(s, "SET", fmt.Sprintf("lc:%032d", i), strings.Repeat(strconv.Itoa(round%10), 40), "EX", "3600")
		},
		"hash": func(s *Store, i, round int) {
			key := fmt.Sprintf("ses:%032d", i)
			do(s, "HSET", key, "uid", strconv.Itoa(1000+i), "at", strconv.Itoa(1700000000+round), "amr", "pwd", "acr", "1")
			do(s, "EXPIRE", key, "3600")
		},
		"set": func(s *Store, i, round int) {
			key := fmt.Sprintf("fam:%032d", i)
			if round%4 == 0 {
				do(s, "DEL", key)
			}
			do(s, "SADD", key, fmt.Sprintf("tok:%020d", round%4))
			do(s, "EXPIRE", key, "3600")
		},
	} {
		c := newClock()
		s := mustOpen(t, Options{Path: filepath.Join(t.TempDir(), "kv.aof"), Now: c.Now, Log: quiet})
		release := make(chan struct{})
		betweenChunks = func() { <-release } // holds the rewrite, and the log's size, until read
		started := int64(0)
		for round := 0; started == 0 && round < 100; round++ {
			for i := range keys {
				write(s, i, round)
				s.mu.Lock()
				if s.log.rw != nil {
					started = s.log.size
				}
				s.mu.Unlock()
				if started != 0 {
					break
				}
			}
		}
		if started == 0 {
			t.Fatalf("%s: the log was not rewritten in 100 rounds of writes to the same %d keys", name, keys)
		}
		s.mu.Lock()
		done := s.log.rw.done
		s.mu.Unlock()
		close(release) // the hook returns at once from now on
		<-done
		s.mu.Lock()
		live, running := s.log.size, s.log.rw != nil
		s.mu.Unlock()
		if running || live >= started {
			t.Fatalf("%s: the rewrite left a log of %d bytes, from %d", name, live, started)
		}
		ratio := float64(started) / float64(live)
		t.Logf("%s: rewritten at %d bytes, %.2f times the live data", name, started, ratio)
		if ratio < 3.5 || ratio > 5 {
			t.Errorf("%s: the log was rewritten at %d bytes, %.1f times the %d bytes of the live data; want about 4 times", name, started, ratio, live)
		}
	}
}
