package groupcommit_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/groupcommit"
)

// Every item is flushed exactly once, in batches of at most max; callers that arrive while a
// batch is flushed share the next one; start and drained bracket each busy spell, and Idle
// runs only between them.
func TestQueueFlushesEveryItemOnceInBatches(t *testing.T) {
	var q groupcommit.Queue[*int]
	const callers, maxBatch = 200, 8
	var (
		mu      sync.Mutex
		flushed = map[*int]int{}
		batches int
		largest int
		busy    atomic.Bool
		spells  atomic.Int32
	)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		item := new(int)
		*item = i
		wg.Go(func() {
			q.Do(item, maxBatch, func(batch []*int) {
				if i == 0 {
					<-release // the first batch holds the queue while the others arrive
				}
				mu.Lock()
				defer mu.Unlock()
				batches++
				largest = max(largest, len(batch))
				for _, it := range batch {
					flushed[it]++
				}
			}, func() {
				if busy.Swap(true) {
					t.Error("start of a queue already busy")
				}
				spells.Add(1)
			}, func() {
				if !busy.Swap(false) {
					t.Error("drained twice")
				}
			})
			mu.Lock()
			if n := flushed[item]; n != 1 {
				t.Errorf("item %d flushed %d times before Do returned", i, n)
			}
			mu.Unlock()
		})
		if i == 0 {
			for q.Idle(func() {}) { // wait until the first caller leads
			}
		}
	}
	if q.Idle(func() {}) {
		t.Fatal("Idle ran while a batch was held")
	}
	close(release)
	wg.Wait()
	if len(flushed) != callers || largest > maxBatch || largest < 2 || batches >= callers {
		t.Fatalf("%d items flushed in %d batches (largest %d); want all %d, batches of 2 to %d", len(flushed), batches, largest, callers, maxBatch)
	}
	if busy.Load() || spells.Load() < 1 || !q.Idle(func() {}) {
		t.Fatalf("after the last batch: busy %v, spells %d; want idle", busy.Load(), spells.Load())
	}
}

// The caller that takes over an idle queue yields before it takes its batch: callers ready to
// run then join it. On one processor, callers released together run one after another, so
// without the yield every first batch would hold its leader alone. (The scheduler may resume
// the leader early now and then, to be fair to its global queue: rounds, not one.)
func TestQueueLeaderLetsReadyCallersJoinItsBatch(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const callers, rounds = 16, 20
	largest := 0
	for range rounds {
		var q groupcommit.Queue[int]
		var (
			mu    sync.Mutex
			first int
		)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				q.Do(i, callers, func(batch []int) {
					mu.Lock()
					if first == 0 {
						first = len(batch)
					}
					mu.Unlock()
				}, nil, nil)
			})
		}
		close(start)
		wg.Wait()
		largest = max(largest, first)
	}
	if largest < callers/2 {
		t.Fatalf("the largest first batch of %d rounds held %d callers; want at least %d of the %d", rounds, largest, callers/2, callers)
	}
}

// Stats counts what the queue did: every item once, every batch once, the batches' flush
// time, and each caller's time in Do, which holds its batch's flush at least.
func TestQueueStats(t *testing.T) {
	var q groupcommit.Queue[int]
	const callers, pause = 50, time.Millisecond
	var batches atomic.Int64
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			q.Do(i, 8, func(batch []int) {
				batches.Add(1)
				time.Sleep(pause)
			}, nil, nil)
		})
	}
	wg.Wait()
	st := &q.Stats
	if st.Items.Load() != callers || st.Batches.Load() != batches.Load() {
		t.Fatalf("stats: %d items in %d batches; the queue flushed %d items in %d", st.Items.Load(), st.Batches.Load(), callers, batches.Load())
	}
	flush, wait := time.Duration(st.Flush.Load()), time.Duration(st.Wait.Load())
	if flush < time.Duration(batches.Load())*pause || wait < flush || wait < callers*pause {
		t.Fatalf("stats: %d batches of at least %v flushed in %v, the %d callers waited %v", batches.Load(), pause, flush, callers, wait)
	}
}
