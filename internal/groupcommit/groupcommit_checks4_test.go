package groupcommit_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/internal/groupcommit"
)

// The caller that leads hands the queue on to the first caller still waiting, so every batch
// is flushed by the caller of its first item (through the flush that caller passed), and a
// caller whose item is flushed by another returns without flushing.
func TestEachBatchIsFlushedByTheCallerOfItsFirstItem(t *testing.T) {
	var q groupcommit.Queue[int]
	const callers, maxBatch = 120, 4
	var (
		mu      sync.Mutex
		batches [][]int
		flusher []int // the caller whose flush ran each batch
	)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			q.Do(i, maxBatch, func(batch []int) {
				if i == 0 {
					<-release // the first batch holds the queue while the others queue up
				}
				mu.Lock()
				defer mu.Unlock()
				batches = append(batches, batch)
				flusher = append(flusher, i)
			}, nil, nil)
		})
		if i == 0 {
			for q.Idle(func() {}) { // wait until the first caller leads
			}
		}
	}
	close(release)
	wg.Wait()
	if len(batches) < callers/maxBatch {
		t.Fatalf("%d batches for %d callers in batches of at most %d", len(batches), callers, maxBatch)
	}
	for b, batch := range batches {
		if len(batch) == 0 || batch[0] != flusher[b] {
			t.Fatalf("batch %d %v was flushed by caller %d; want the caller of its first item", b, batch, flusher[b])
		}
	}
}

// queued waits until n callers of a queue's Do wait for their batch (blocked in its select).
func queued(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		waiting := 0
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, " [select") && strings.Contains(g, "groupcommit.(*Queue[") {
				waiting++
			}
		}
		if waiting >= n {
			return
		}
		runtime.Gosched()
	}
}

// A caller alone in the queue behind the batch being flushed is handed the queue and
// returns, with no other caller to come after it.
func TestTheLastCallerWaitingIsHandedTheQueue(t *testing.T) {
	var q groupcommit.Queue[int]
	holding, release := make(chan struct{}), make(chan struct{})
	var flushed [][]int
	flush := func(batch []int) {
		if batch[0] == 1 {
			close(holding)
			<-release
		}
		flushed = append(flushed, batch)
	}
	first := make(chan struct{})
	go func() {
		defer close(first)
		q.Do(1, 8, flush, nil, nil)
	}()
	<-holding // the first batch is being flushed
	second := make(chan struct{})
	go func() {
		defer close(second)
		q.Do(2, 8, flush, nil, nil)
	}()
	queued(t, 1)
	close(release)
	<-first
	select {
	case <-second:
	case <-time.After(10 * time.Second):
		t.Fatal("the second caller was not flushed 10 s after the first batch")
	}
	if len(flushed) != 2 || flushed[1][0] != 2 || !q.Idle(func() {}) {
		t.Fatalf("batches %v, idle %v; want [[1] [2]] and an idle queue", flushed, q.Idle(func() {}))
	}
}
