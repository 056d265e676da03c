package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memHash is a 64-character hex digest, as LoginSign's keys and members carry (ids.Hash).
func memHash(i int, salt string) string {
	sum := sha256.Sum256([]byte(salt + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])
}

// memKind is one kind of key LoginSign keeps, written the way it writes it: write(s, i) adds
// the i-th key of that kind.
type memKind struct {
	name  string
	write func(s *Store, i int) any
}

var memSessionValue = strings.Repeat("v", 200)

var memUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

var memKinds = []memKind{
	// An access token's grant: a string of about 200 bytes under "at:" and its hash, with a TTL.
	{"string", func(s *Store, i int) any {
		return do(s, "SET", "at:"+memHash(i, "at"), memSessionValue, "EX", "3600")
	}},
	// A rate-limit counter: INCRBY then PEXPIRE of a short key.
	{"counter", func(s *Store, i int) any {
		k := "rl:signin:ip:" + strconv.Itoa(i)
		if r := do(s, "INCRBY", k, "1"); r != any(int64(1)) {
			return r
		}
		return do(s, "PEXPIRE", k, "900000")
	}},
	// A family's access-token set of one bucket: two token hashes, with a TTL.
	{"set", func(s *Store, i int) any {
		k := "fat:fam_" + memHash(i, "f")[:22] + ":" + strconv.Itoa(493000+i%7)
		if r := do(s, "SADD", k, memHash(i, "a"), memHash(i, "b")); r != any(int64(2)) {
			return r
		}
		return do(s, "EXPIRE", k, "7200")
	}},
	// A session: a hash of eight fields under "sess:" and its hash, with a TTL.
	{"hash", func(s *Store, i int) any {
		k := "sess:" + memHash(i, "s")
		if r := do(s, "HSET", k, "uid", "usr_01JD8Y6ZK3"+strconv.Itoa(1e9+i), "created", "1765030000000",
			"seen", "1765030000000", "ua", memUA, "ip", "203.0.113.7", "amr", "email", "line", memHash(i, "l"),
			"brh", memHash(i, "b")); r != any(int64(8)) {
			return r
		}
		return do(s, "EXPIRE", k, "1209600")
	}},
	// One person's session index grown large: a single set, one 64-character member a write.
	{"bigset", func(s *Store, i int) any {
		if r := do(s, "SADD", "usess:usr_01JD8Y6ZK3", memHash(i, "m")); r != any(int64(1)) {
			return r
		}
		return ok
	}},
	// One hash grown large (a person's list of browsers): a field of 22 bytes and a value of
	// about 40 a write.
	{"bighash", func(s *Store, i int) any {
		return do(s, "HSET", "brl:usr_01JD8Y6ZK3", "br_"+memHash(i, "r")[:19], "Firefox on Linux · "+strconv.Itoa(1765030000000+i))
	}},
}

// memCounts are the numbers of keys BenchmarkMemoryPerKey writes.
var memCounts = []int{10_000, 1_000_000}

// heapInuse is the heap in use after a full collection, and of it the live objects.
func heapInuse() (inuse, alloc int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse), int64(m.HeapAlloc)
}

// measureKind writes n keys of k (no bound reached) and returns the heap they took and the
// store's estimate of it, each per key written.
func measureKind(tb testing.TB, k memKind, n int) (heap, live, est float64) {
	before, beforeLive := heapInuse()
	s, err := Open(Options{MaxKeys: 1 << 30, MaxBytes: 1 << 50})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if r := k.write(s, i); r != any(ok) && r != any(int64(1)) {
			tb.Fatalf("%s %d: %v", k.name, i, r)
		}
	}
	after, afterLive := heapInuse()
	s.mu.Lock()
	bytes := s.bytes
	s.mu.Unlock()
	runtime.KeepAlive(s)
	return float64(after-before) / float64(n), float64(afterLive-beforeLive) / float64(n), float64(bytes) / float64(n)
}

// BenchmarkMemoryPerKey measures, for each kind of key LoginSign keeps, the heap a key takes
// (runtime.MemStats.HeapInuse after a full GC, before and after writing them) against the
// store's estimate (Store.bytes), at 10 k and 1 M keys: heap-B/key, est-B/key and their
// ratio. Run it with -benchtime=1x: each iteration fills a store anew.
func BenchmarkMemoryPerKey(b *testing.B) {
	for _, k := range memKinds {
		for _, n := range memCounts {
			b.Run(fmt.Sprintf("%s/keys=%d", k.name, n), func(b *testing.B) {
				var heap, live, est float64
				for b.Loop() {
					heap, live, est = measureKind(b, k, n)
				}
				b.ReportMetric(live, "live-B/key")
				b.ReportMetric(heap, "heap-B/key")
				b.ReportMetric(est, "est-B/key")
				b.ReportMetric(heap/est, "heap/est")
			})
		}
	}
}

// TestAFullStoresHeapStaysNearMaxBytes fills a store of 32 MiB with each kind of key LoginSign
// keeps, written as it writes them (and, for the kinds with a TTL, goes on writing a tenth more
// past the bound, evicting): the heap the store takes (HeapInuse after a full GC, before and
// after) stays within 1.4 times MaxBytes (1.0 to 1.25 measured; the margin is run-to-run spread), as the estimate's overheads (keyOverhead and the
// rest, measured by BenchmarkMemoryPerKey) promise about 1.2. Before, the estimate counted a
// key as 96 bytes and a member as 48 besides their bytes, and a full store's heap was 1.6
// (strings) to 2.7 (counters, small sets) times MaxBytes: LOGINSIGN_KV_MAX_BYTES did not bound
// the memory it named. It measures memory, not time, and does not run in parallel.
func TestAFullStoresHeapStaysNearMaxBytes(t *testing.T) {
	const maxBytes = 32 << 20
	for _, k := range memKinds {
		t.Run(k.name, func(t *testing.T) {
			before, _ := heapInuse()
			s, err := Open(Options{MaxKeys: 1 << 30, MaxBytes: maxBytes, SweepEvery: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			full, extra := 0, 0
			for i := 0; ; i++ {
				r := k.write(s, i)
				if r == any(ErrFull) {
					break
				}
				if r != any(ok) && r != any(int64(1)) {
					t.Fatalf("write %d: %v", i, r)
				}
				if full == 0 && s.Evicted > 0 {
					full, extra = i, i/10
				}
				if full > 0 && i >= full+extra {
					break
				}
			}
			after, _ := heapInuse()
			s.mu.Lock()
			held := s.bytes
			s.mu.Unlock()
			runtime.KeepAlive(s)
			if held < maxBytes*9/10 {
				t.Fatalf("the store holds %d estimated bytes, not full at %d", held, maxBytes)
			}
			ratio := float64(after-before) / maxBytes
			t.Logf("%s: %d keys, heap %.1f MiB for MaxBytes %d MiB: %.2f", k.name, s.Len(), float64(after-before)/(1<<20), maxBytes>>20, ratio)
			if ratio > 1.4 {
				t.Errorf("a store full of %s keys takes %.2f times MaxBytes of heap, past 1.4", k.name, ratio)
			}
		})
	}
}
