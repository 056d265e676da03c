package kv_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
)

// realRedis is a store on a real Redis server, where Transact and GetEach are batched; the
// test is skipped without one.
func realRedis(t *testing.T) *kv.Store {
	t.Helper()
	s := kvtest.Real(t)
	if s.Embedded {
		t.Skip(kvtest.EnvRedis + " is not set: the batches run on a real Redis only")
	}
	return s
}

// mgetsPerPipeline is a go-redis hook that remembers the most MGETs (GetEach calls) one
// pipeline carried.
type mgetsPerPipeline struct {
	mu  sync.Mutex
	max int
}

func (h *mgetsPerPipeline) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *mgetsPerPipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *mgetsPerPipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if c.Name() == "mget" {
				n++
			}
		}
		h.mu.Lock()
		h.max = max(h.max, n)
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *mgetsPerPipeline) most() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

// GetEach calls that share a pipeline, next to transactions, each get the values of their own
// keys, whatever their place in the batch.
func TestBatchedGetEachCallsGetTheirOwnValues(t *testing.T) {
	s := realRedis(t)
	ctx := t.Context()
	seen := &mgetsPerPipeline{}
	s.AddHook(seen)
	const n = 100
	for i := range n {
		if err := s.Set(ctx, fmt.Sprintf("own:%d", i), fmt.Sprintf("value %d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Batches form when calls arrive while one is being sent; a few rounds make sure some
	// pipeline carried several GetEach calls.
	for round := 0; round < 20 && seen.most() < 2; round++ {
		errs := make([]error, 2*n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := s.GetEach(ctx, fmt.Sprintf("own:%d", i), "own:missing")
				if want := fmt.Sprintf("value %d", i); err != nil || len(v) != 2 || string(v[0]) != want || v[1] != nil {
					errs[i] = fmt.Errorf("GetEach of own:%d = %q, %v; want [%q nil]", i, v, err, want)
				}
			})
			wg.Go(func() {
				if _, err := s.Transact(ctx, []string{"INCR", "own:n"}); err != nil {
					errs[n+i] = err
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	if seen.most() < 2 {
		t.Fatal("no pipeline carried two GetEach calls: the test proved nothing")
	}
}

// A Redis connection lost under a GetEach fails the call: the keys must not read as missing
// (an access token then looked unknown instead of the store being down).
func TestGetEachOnALostConnectionFailsInsteadOfReadingNothing(t *testing.T) {
	s := realRedis(t)
	ctx := t.Context()
	if err := s.Set(ctx, "lost:a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	f := kvtest.InjectFaults(t, s)
	f.Arm("mget", "", 1)
	v, err := s.GetEach(ctx, "lost:a")
	if !errors.Is(err, kvtest.ErrInjected) {
		t.Fatalf("GetEach on a lost connection = %q, %v; want the connection's error", v, err)
	}
}

// A Redis connection lost under a Transact's EXEC gives the caller that error, not one made
// up from the missing reply.
func TestTransactOnALostConnectionReturnsTheConnectionsError(t *testing.T) {
	s := realRedis(t)
	f := kvtest.InjectFaults(t, s)
	f.Arm("exec", "", 1)
	_, err := s.Transact(t.Context(), []string{"SET", "lost:b", "1"})
	if !errors.Is(err, kvtest.ErrInjected) {
		t.Fatalf("Transact on a lost connection: %v, want the connection's error", err)
	}
}

// A transaction that Redis refuses whole (a command refused when queued: EXECABORT) fails
// with Redis's answer, and applies nothing.
func TestATransactionRefusedWhenQueuedFailsWithRedisAnswer(t *testing.T) {
	s := realRedis(t)
	ctx := t.Context()
	_, err := s.Transact(ctx, []string{"SET", "abort:a", "1"}, []string{"GET"})
	var reply redis.Error
	if !errors.As(err, &reply) {
		t.Fatalf("Transact with a command of the wrong arity: %v (%T), want Redis's error reply", err, err)
	}
	if n := s.Exists(ctx, "abort:a").Val(); n != 0 {
		t.Fatal("the refused transaction's SET was applied")
	}
}

// The batch a call leads carries others' calls too: a call whose client went away is still
// sent, so that those others are not failed with its context's error.
func TestACallWhoseContextEndedIsStillSent(t *testing.T) {
	s := realRedis(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Transact(ctx, []string{"SET", "gone:a", "1"}); err != nil {
		t.Fatalf("Transact with an ended context: %v, want it sent", err)
	}
	if v := s.Get(t.Context(), "gone:a").Val(); v != "1" {
		t.Fatalf("gone:a = %q, want 1", v)
	}
}
