package kvtest_test

import (
	"context"
	"errors"
	"testing"

	"loginsign/internal/kv/kvtest"
)

// TestFaultFailsWhatItIsArmedFor: an armed Fault fails the matching commands alone and in a
// pipeline (nothing of the pipeline applied), lets others through, and stops when spent.
func TestFaultFailsWhatItIsArmedFor(t *testing.T) {
	ctx := context.Background()
	s := kvtest.Real(t)
	f := kvtest.InjectFaults(t, s)
	f.Arm("del", "at:", 2)
	if err := s.Set(ctx, "at:1", "x", 0).Err(); err != nil {
		t.Fatalf("a SET while DEL is armed: %v", err)
	}
	if err := s.Del(ctx, "other").Err(); err != nil {
		t.Fatalf("a DEL of another prefix: %v", err)
	}
	if err := s.Del(ctx, "at:1").Err(); !errors.Is(err, kvtest.ErrInjected) {
		t.Fatalf("an armed DEL: %v, want the injected error", err)
	}
	pipe := s.Pipeline()
	pipe.Set(ctx, "at:2", "y", 0)
	pipe.Del(ctx, "at:1")
	if _, err := pipe.Exec(ctx); !errors.Is(err, kvtest.ErrInjected) {
		t.Fatalf("a pipeline holding an armed DEL: %v, want the injected error", err)
	}
	if n := s.Exists(ctx, "at:1", "at:2").Val(); n != 1 {
		t.Fatalf("after the failed commands %d of at:1, at:2 exist, want only at:1", n)
	}
	if f.Injected() != 2 {
		t.Fatalf("injected %d, want 2", f.Injected())
	}
	if err := s.Del(ctx, "at:1").Err(); err != nil {
		t.Fatalf("a DEL once the fault is spent: %v", err)
	}
}

// TestFaultSeesTheKeysOfBatchedCalls: Transact on a Redis server sends its arguments as
// pointers (kv's batches); an armed prefix still finds them.
func TestFaultSeesTheKeysOfBatchedCalls(t *testing.T) {
	ctx := context.Background()
	s := kvtest.Real(t)
	f := kvtest.InjectFaults(t, s)
	f.Arm("smembers", "fat:", 1)
	if _, err := s.Transact(ctx, []string{"SMEMBERS", "other"}); err != nil {
		t.Fatalf("SMEMBERS of another prefix: %v", err)
	}
	if _, err := s.Transact(ctx, []string{"SMEMBERS", "fat:1"}); !errors.Is(err, kvtest.ErrInjected) {
		t.Fatalf("an armed SMEMBERS through Transact: %v, want the injected error", err)
	}
}
