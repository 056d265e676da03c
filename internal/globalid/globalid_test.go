package globalid_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"loginsign/internal/globalid"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

func TestPermutationIsBijectionOnReducedSpace(t *testing.T) {
	t.Parallel()
	p := globalid.NewPermutation([]byte("k"), 50)
	seen := make(map[int64]bool, p.Size())
	for n := range p.Size() {
		v := p.Apply(n)
		if v < 0 || v >= p.Size() {
			t.Fatalf("Apply(%d) = %d, outside [0,%d)", n, v, p.Size())
		}
		if seen[v] {
			t.Fatalf("Apply(%d) = %d twice", n, v)
		}
		seen[v] = true
	}
}

func TestPermutationIsNotSequential(t *testing.T) {
	t.Parallel()
	p := globalid.NewPermutation([]byte("key"), globalid.Side)
	ascending := 0
	for n := range int64(1000) {
		if p.Apply(n+1) == p.Apply(n)+1 {
			ascending++
		}
	}
	if ascending > 5 {
		t.Errorf("%d of 1000 consecutive counters gave consecutive ids", ascending)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    int64
		want string
	}{
		{0, "AA0000"},
		{9999, "AA9999"},
		{10000, "AB0000"},
		{globalid.Space - 1, "ZZ9999"},
	}
	for _, tt := range tests {
		if got := globalid.Format(tt.v); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.v, got, tt.want)
		}
		if !globalid.Valid(tt.want) {
			t.Errorf("Valid(%q) = false", tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"ab1234": true, " AB1234 ": true, "A1234": false, "ABC123": false, "AB12345": false, "ÄB1234": false} {
		if _, ok := globalid.Normalize(in); ok != want {
			t.Errorf("Normalize(%q) ok = %v, want %v", in, ok, want)
		}
	}
}

// TestAllocatorWalksReducedSpaceToExhaustion assigns every id of a 30×30 space from two
// goroutines: each id once, then a clear error.
func TestAllocatorWalksReducedSpaceToExhaustion(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := globalid.NewReducedAllocator(db.Client, db.Dialect, 30)
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() {
				for {
					id, err := a.Next(ctx, nil)
					if errors.Is(err, globalid.ErrExhausted) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					dup := seen[id]
					seen[id] = true
					mu.Unlock()
					if dup {
						errs <- errors.New("duplicate id " + id)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != 900 {
			t.Fatalf("assigned %d ids, want 900", len(seen))
		}
		if _, err := a.Next(ctx, nil); !errors.Is(err, globalid.ErrExhausted) {
			t.Fatalf("after exhaustion: err = %v, want ErrExhausted", err)
		}
	})
}

func TestAllocatorKeyIsSharedThroughDatabase(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := globalid.NewAllocator(db.Client, db.Dialect), globalid.NewAllocator(db.Client, db.Dialect)
		seen := map[string]bool{}
		for i := range 200 {
			alloc := a
			if i%2 == 1 {
				alloc = b
			}
			id, err := alloc.Next(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] || !globalid.Valid(id) {
				t.Fatalf("id %q repeated or malformed", id)
			}
			seen[id] = true
		}
	})
}

// BenchmarkPermutation1M is the cost of computing 1,000,000 ids (no database).
func BenchmarkPermutation1M(b *testing.B) {
	p := globalid.NewPermutation([]byte("bench"), globalid.Side)
	for b.Loop() {
		for n := range int64(1_000_000) {
			globalid.Format(p.Apply(n))
		}
	}
}

// BenchmarkAllocate is one durable allocation (counter UPDATE + permutation) on SQLite.
func BenchmarkAllocate(b *testing.B) {
	db := storetest.SQLite(b)
	a := globalid.NewAllocator(db.Client, db.Dialect)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.Next(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllocate1M allocates 1,000,000 ids durably (SQLite in memory); compare with
// BenchmarkBaselineCounter1M, the same number of bare counter UPDATEs, in the same run.
func BenchmarkAllocate1M(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db := storetest.SQLite(b)
		a := globalid.NewAllocator(db.Client, db.Dialect)
		b.StartTimer()
		for range 1_000_000 {
			if _, err := a.Next(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkBaselineCounter1M(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db := storetest.SQLite(b)
		db.Sequence.Create().SetName("baseline").SetKey([]byte("k")).ExecX(ctx)
		b.StartTimer()
		for range 1_000_000 {
			rows, err := db.QueryContext(ctx, "UPDATE sequences SET value = value + 1 WHERE name = ? RETURNING value", "baseline")
			if err != nil {
				b.Fatal(err)
			}
			rows.Next()
			rows.Close()
		}
	}
}

// An operator hears of a filling space at each threshold, once, and Usage tells how full it is.
func TestAllocatorReportsThresholdsAndUsage(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := globalid.NewReducedAllocator(db.Client, db.Dialect, 10) // 100 ids
		type report struct {
			fraction float64
			used     int64
		}
		var got []report
		a.OnThreshold = func(f float64, used, size int64) {
			if size != 100 {
				t.Errorf("size = %d, want 100", size)
			}
			got = append(got, report{f, used})
		}
		for i := 0; i < 80; i++ {
			if _, err := a.Next(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		want := []report{{0.5, 50}, {0.8, 80}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("reports after 80 ids = %v, want %v", got, want)
		}
		if used, size, err := a.Usage(ctx); err != nil || used != 80 || size != 100 {
			t.Fatalf("Usage = %d, %d, %v; want 80, 100", used, size, err)
		}
		for {
			if _, err := a.Next(ctx, nil); errors.Is(err, globalid.ErrExhausted) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(globalid.Thresholds) {
			t.Fatalf("reports at exhaustion = %v, want one per threshold %v", got, globalid.Thresholds)
		}
		// Attempts after exhaustion advance the counter but not the usage.
		a.Next(ctx, nil)
		if used, _, _ := a.Usage(ctx); used != 100 {
			t.Fatalf("Usage after exhaustion = %d, want 100", used)
		}
	})
}
