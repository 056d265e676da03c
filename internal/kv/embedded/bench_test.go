package embedded

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fill stores n keys of 200 bytes with a one-hour TTL.
func fill(b *testing.B, s *Store, n int) {
	val := make([]byte, 200)
	for i := range n {
		s.Do([]byte("SET"), []byte("k:"+strconv.Itoa(i)), val, []byte("EX"), []byte("3600"))
	}
}

// BenchmarkStoreOps is the cost of one GET and one SET EX (which moves the key in the expiry
// heap) at 1 k and 1 M live keys: it should stay flat.
func BenchmarkStoreOps(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		s, _ := Open(Options{})
		fill(b, s, n)
		val := make([]byte, 200)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				k := []byte("k:" + strconv.Itoa(i%n))
				s.Do([]byte("GET"), k)
				s.Do([]byte("SET"), k, val, []byte("EX"), []byte("3600"))
				i += 7919
			}
		})
		s.Close()
	}
}

// BenchmarkGoMapOps is BenchmarkStoreOps's floor: the same reads and writes, in the same
// order, on a bare Go map of the same keys. What the store adds (parsing, the expiry heap,
// the log) is the difference; what both lose at 1 M keys is the CPU cache (a million keys do
// not fit in it), and the store's heap is O(log n) deep, never a scan.
func BenchmarkGoMapOps(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		m := make(map[string][]byte)
		for i := range n {
			m["k:"+strconv.Itoa(i)] = make([]byte, 200)
		}
		val := make([]byte, 200)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				k := "k:" + strconv.Itoa(i%n)
				_ = m[k]
				m[k] = append([]byte(nil), val...)
				i += 7919
			}
		})
	}
}

// BenchmarkClientGet is one GET through go-redis and the Redis protocol at 1 k and 1 M keys.
func BenchmarkClientGet(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		s, _ := Open(Options{})
		fill(b, s, n)
		srv := Serve(s)
		c := redis.NewClient(&redis.Options{Addr: "embedded", Dialer: srv.Dial, Protocol: 2, DisableIdentity: true})
		ctx := context.Background()
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := c.Get(ctx, "k:"+strconv.Itoa(i%n)).Err(); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
		c.Close()
		srv.Close()
		s.Close()
	}
}

// BenchmarkExpire1M expires 1,000,000 keys by the sweep alone: the reported ns/key is the
// cost per expired key (heap pops; no scan of the keyspace).
func BenchmarkExpire1M(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c := newClock()
		s, _ := Open(Options{Now: c.Now, SweepBatch: 1 << 30, SweepEvery: time.Hour})
		val := make([]byte, 16)
		for i := range 1_000_000 {
			s.Do([]byte("SET"), []byte("k:"+strconv.Itoa(i)), val, []byte("PX"), []byte(strconv.Itoa(1000+i%5000)))
		}
		c.Add(10 * time.Second)
		b.StartTimer()
		start := time.Now()
		n := s.Sweep()
		took := time.Since(start)
		b.StopTimer()
		if n != 1_000_000 || s.Len() != 0 {
			b.Fatalf("swept %d, %d left", n, s.Len())
		}
		b.ReportMetric(float64(took.Nanoseconds())/float64(n), "ns/expired-key")
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkStoreOpsLogged is BenchmarkStoreOps at 1 k keys with the log on (a file in a
// temporary directory): what each write's append to kv.aof adds, one write(2) per command.
func BenchmarkStoreOpsLogged(b *testing.B) {
	s, err := Open(Options{Path: b.TempDir() + "/kv.aof"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 1_000
	fill(b, s, n)
	val := make([]byte, 200)
	i := 0
	for b.Loop() {
		k := []byte("k:" + strconv.Itoa(i%n))
		s.Do([]byte("GET"), k)
		s.Do([]byte("SET"), k, val, []byte("EX"), []byte("3600"))
		i += 7919
	}
}
