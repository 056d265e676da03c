package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clock is a settable test clock.
type clock struct{ ms atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.ms.Store(time.Now().UnixMilli()); return c }
func (c *clock) Now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *clock) Add(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func do(s *Store, args ...string) any {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return s.Do(b...)
}

func mustOpen(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Past MaxKeys, the keys expiring soonest are evicted; with none left to evict, a write
// fails with OOM and changes nothing.
func TestLimitsEvictSoonestExpiring(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, Options{MaxKeys: 3})
	do(s, "SET", "late", "v", "EX", "300")
	do(s, "SET", "soon", "v", "EX", "100")
	do(s, "SET", "forever", "v")
	if r := do(s, "SET", "new", "v", "EX", "200"); r != any(ok) {
		t.Fatalf("SET past MaxKeys = %v, want OK after evicting", r)
	}
	if do(s, "EXISTS", "soon") != any(int64(0)) || do(s, "EXISTS", "late", "forever", "new") != any(int64(3)) {
		t.Fatal("eviction did not take exactly the key expiring soonest")
	}
	do(s, "PERSIST", "late")
	do(s, "PERSIST", "new")
	r := do(s, "SET", "one-more", "v")
	if err, isErr := r.(error); !isErr || err != ErrFull {
		t.Fatalf("SET with nothing evictable = %v, want ErrFull", r)
	}
	if do(s, "EXISTS", "one-more") != any(int64(0)) || s.Len() != 3 {
		t.Fatal("a refused write changed the store")
	}

	b := mustOpen(t, Options{MaxBytes: 10 << 10})
	big := string(make([]byte, 3<<10))
	for i := range 10 {
		do(b, "SET", "k"+strconv.Itoa(i), big, "EX", strconv.Itoa(100+i))
	}
	if b.bytes > 10<<10 || b.Evicted == 0 {
		t.Fatalf("bytes %d past MaxBytes (evicted %d)", b.bytes, b.Evicted)
	}
	if do(b, "EXISTS", "k9") != any(int64(1)) || do(b, "EXISTS", "k0") != any(int64(0)) {
		t.Fatal("byte-bound eviction kept the wrong keys")
	}
}

// Keys under a Keep prefix (rate-limit counters) are never evicted: a flood of other writes
// takes the other keys, even those expiring later, and when only kept keys are left a write
// fails with ErrFull. Kept keys still expire, by the sweep and on access, and survive a
// restart as kept.
func TestKeptKeysAreNeverEvicted(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "aof")
	s := mustOpen(t, Options{MaxKeys: 4, Keep: []string{"rl:"}, Now: c.Now, Path: path})
	do(s, "SET", "rl:login:a", "1", "EX", "60")  // the soonest deadline of all
	do(s, "SET", "rl:login:b", "1", "EX", "900") // expires later
	for i := range 50 {                          // a flood of later-expiring writes
		if r := do(s, "SET", fmt.Sprintf("flow:%d", i), "v", "EX", "1800"); r != any(ok) {
			t.Fatalf("flow %d: %v", i, r)
		}
	}
	if do(s, "EXISTS", "rl:login:a", "rl:login:b") != any(int64(2)) {
		t.Fatal("a flood of other writes evicted a rate-limit counter")
	}
	if do(s, "EXISTS", "flow:49", "flow:48") != any(int64(2)) || s.Len() != 4 || s.Evicted != 48 {
		t.Fatalf("the flood kept %d keys, evicted %d; want the 2 latest flows and 48 evicted", s.Len(), s.Evicted)
	}
	do(s, "SET", "rl:x", "1", "EX", "60")
	do(s, "SET", "rl:y", "1", "EX", "60") // evicts the two flows
	if r := do(s, "SET", "flow:more", "v", "EX", "1800"); r != any(ErrFull) {
		t.Fatalf("a write with only kept keys left = %v, want ErrFull", r)
	}
	c.Add(61 * time.Second)
	if n := s.Sweep(); n != 3 || do(s, "EXISTS", "rl:login:b") != any(int64(1)) {
		t.Fatalf("the sweep expired %d kept keys, want the 3 of 60 s", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := mustOpen(t, Options{MaxKeys: 2, Keep: []string{"rl:"}, Now: c.Now, Path: path})
	do(again, "SET", "flow:after", "v", "EX", "1800")
	if r := do(again, "SET", "flow:after2", "v", "EX", "1800"); r != any(ok) || do(again, "EXISTS", "rl:login:b") != any(int64(1)) {
		t.Fatalf("after a restart the counter is not kept: %v", r)
	}
}

// Expired keys go by lazy expiry on access and by the sweep, which takes at most SweepBatch
// a call from the top of the heap (no scan of the live keys).
func TestSweepIsBoundedAndOrdered(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := mustOpen(t, Options{SweepBatch: 100, Now: c.Now})
	for i := range 1000 {
		do(s, "SET", fmt.Sprintf("short:%d", i), "v", "PX", "1000")
		do(s, "SET", fmt.Sprintf("long:%d", i), "v", "EX", "3600")
	}
	do(s, "SET", "lazy", "v", "PX", "1000")
	// Extended and removed TTLs are re-placed in the heap lazily: never swept early.
	do(s, "SET", "extended", "v", "PX", "1000")
	do(s, "PEXPIRE", "extended", "3600000")
	do(s, "SET", "persisted", "v", "PX", "1000")
	do(s, "PERSIST", "persisted")
	do(s, "SET", "shortened", "v", "EX", "3600")
	do(s, "PEXPIRE", "shortened", "1000")
	c.Add(2 * time.Second)
	if do(s, "GET", "lazy") != nil {
		t.Fatal("an expired key was read")
	}
	first := s.Sweep()
	if first > 100 || first < 97 {
		t.Fatalf("one sweep deleted %d, want at most the batch of 100 (steps that re-place a key count)", first)
	}
	total := first
	for n := s.Sweep(); n > 0; n = s.Sweep() {
		total += n
	}
	if total != 1001 || s.Len() != 1002 {
		t.Fatalf("swept %d, %d left; want 1001 (the short keys and the shortened one) and 1002", total, s.Len())
	}
	if do(s, "EXISTS", "extended", "persisted", "shortened") != any(int64(2)) {
		t.Fatal("the sweep took a key whose TTL was extended or removed, or kept a shortened one")
	}
}

// With a Path, the data survives Close and Open: strings, sets, hashes and TTLs; expired
// keys and deleted keys do not come back; the log is compacted on open; a torn last record
// is dropped.
func TestPersistenceSurvivesRestart(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	do(s, "HSET", "sess:a", "u", "usr_1", "seen", "5")
	do(s, "PEXPIRE", "sess:a", "3600000")
	do(s, "SADD", "us:usr_1", "a", "b")
	do(s, "SET", "gone", "v", "PX", "500")
	do(s, "SET", "deleted", "v")
	do(s, "DEL", "deleted")
	for i := range 100 {
		do(s, "INCR", "counter")
		_ = i
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a torn record at the end.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{1, 40, 'p', 'a', 'r'})
	f.Close()
	before, _ := os.Stat(path)

	c.Add(time.Second)
	r, err := Open(Options{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v := do(r, "HGET", "sess:a", "u"); string(v.([]byte)) != "usr_1" {
		t.Fatalf("session after restart: %v", v)
	}
	if ttl := do(r, "PTTL", "sess:a").(int64); ttl <= 3590000 || ttl > 3600000 {
		t.Fatalf("TTL after restart: %d", ttl)
	}
	if do(r, "SCARD", "us:usr_1") != any(int64(2)) || string(do(r, "GET", "counter").([]byte)) != "100" {
		t.Fatal("set or counter lost in the restart")
	}
	if do(r, "EXISTS", "gone", "deleted") != any(int64(0)) {
		t.Fatal("an expired or deleted key came back")
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size() {
		t.Fatalf("log not compacted on open: %d → %d bytes", before.Size(), after.Size())
	}
}

// The server speaks the Redis protocol to go-redis over in-memory connections.
func TestServeToGoRedis(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, Options{})
	srv := Serve(s)
	defer srv.Close()
	c := redis.NewClient(&redis.Options{Addr: "embedded", Dialer: srv.Dial, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); v != "v" || err != nil {
		t.Fatalf("GET = %q %v", v, err)
	}
	if err := c.Do(ctx, "KEYS", "*").Err(); err == nil {
		t.Fatal("an unsupported command answered without error")
	}
}

// The heap keeps every entry's index and yields deadlines in order through pushes, fixes and
// removals at random places.
func TestHeapOrder(t *testing.T) {
	t.Parallel()
	var h expHeap
	r := rand.New(rand.NewPCG(1, 2))
	var live []*entry
	for i := range 5000 {
		e := &entry{hexp: r.Int64N(1 << 20), hidx: -1}
		h.push(e)
		live = append(live, e)
		switch {
		case i%7 == 0: // move one
			x := live[r.IntN(len(live))]
			x.hexp = r.Int64N(1 << 20)
			h.fix(x.hidx)
		case i%11 == 0: // remove one
			j := r.IntN(len(live))
			h.remove(live[j].hidx)
			live = append(live[:j], live[j+1:]...)
		}
	}
	for i, it := range h {
		if it.e.hidx != i || it.at != it.e.hexp {
			t.Fatalf("item %d: hidx %d, at %d, hexp %d", i, it.e.hidx, it.at, it.e.hexp)
		}
	}
	prev := int64(-1)
	for n := len(live); n > 0; n-- {
		e := h.top()
		if e.hexp < prev {
			t.Fatalf("popped %d after %d", e.hexp, prev)
		}
		prev = e.hexp
		h.remove(0)
	}
	if len(h) != 0 {
		t.Fatalf("%d items left", len(h))
	}
}

// A set that grows one member at a time (an access-token family: SET, SADD, PEXPIRE per
// token) costs the log a delta record per write, not the whole set again: the log grows
// linearly. Random writes to a few keys (sets grown, shrunk, deleted and recreated, TTLs
// set and removed, in single commands and in MULTI batches) replay to exactly the state
// the store held, and a version 1 log (whole-state records only) still loads.
func TestPersistenceDeltaRecords(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, err := Open(Options{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	const members = 3000
	for i := range members {
		h := fmt.Sprintf("%064d", i)
		s.DoAll([][][]byte{
			{[]byte("SET"), []byte("at:" + h), []byte("grant"), []byte("PX"), []byte("3600000")},
			{[]byte("SADD"), []byte("fat:f"), []byte(h)},
			{[]byte("PEXPIRE"), []byte("fat:f"), []byte("3600000")},
		})
	}
	s.mu.Lock()
	s.log.sync()
	size := s.log.size
	s.mu.Unlock()
	// Each round writes ~170 bytes of records; rewriting the whole set would be ~100 MB.
	if size > members*400 {
		t.Fatalf("log of %d family writes is %d bytes: the set is rewritten on every SADD", members, size)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"s1", "s2", "s3", "str"}
	for range 4000 {
		k := keys[rng.IntN(3)]
		m := strconv.Itoa(rng.IntN(20))
		switch rng.IntN(9) {
		case 0, 1, 2:
			do(s, "SADD", k, m, strconv.Itoa(rng.IntN(20)))
		case 3:
			do(s, "SREM", k, m)
		case 4:
			do(s, "PEXPIRE", k, strconv.Itoa(1000+rng.IntN(100000)))
		case 5:
			do(s, "PERSIST", k)
		case 6:
			s.DoAll([][][]byte{{[]byte("DEL"), []byte(k)}, {[]byte("SADD"), []byte(k), []byte(m)}})
		case 7:
			s.DoAll([][][]byte{{[]byte("SADD"), []byte(k), []byte(m)}, {[]byte("PEXPIRE"), []byte(k), []byte("50000")}, {[]byte("SREM"), []byte(k), []byte("3")}})
		case 8:
			do(s, "SET", "str", m)
			do(s, "PEXPIRE", "str", strconv.Itoa(1000+rng.IntN(100000)))
		}
	}
	snapshot := func(st *Store) map[string]string {
		out := map[string]string{}
		for _, k := range keys {
			ms := do(st, "SMEMBERS", k)
			if k == "str" {
				ms = do(st, "GET", k)
			}
			out[k] = fmt.Sprintf("%v ttl=%v", ms, do(st, "PTTL", k))
			if arr, ok := ms.([]any); ok {
				set := map[string]bool{}
				for _, x := range arr {
					set[string(x.([]byte))] = true
				}
				out[k] = fmt.Sprintf("%v ttl=%v", set, do(st, "PTTL", k))
			}
		}
		out["fat:f"] = fmt.Sprint(do(st, "SCARD", "fat:f"), do(st, "PTTL", "fat:f"))
		return out
	}
	want := snapshot(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	got := snapshot(r)
	r.Close()
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s after restart: %s, want %s", k, got[k], want[k])
		}
	}

	// A version 1 log: the records of the compacted log, without frames, under the old
	// header, read the same.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, unframed(t, b, aofHeaderV1), 0o600)
	v1, err := Open(Options{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	if got := snapshot(v1); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("version 1 log: %v, want %v", got, want)
	}
}
