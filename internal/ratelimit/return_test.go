package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
)

// TestReturnGivesBackOneHit: a hit given back (an operation that failed on the server's side)
// can be taken again, once; and a counter given back after its window ended (or before any
// hit) is not left without one, which would make its extra hit last for ever.
func TestReturnGivesBackOneHit(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		r := ratelimit.Rule{Name: "test-return", N: 2, Window: time.Hour}
		for i := range 2 {
			if err := l.Take(ctx, r, "person-1"); err != nil {
				t.Fatalf("take %d: %v", i+1, err)
			}
		}
		if err := l.Return(ctx, r, "person-1"); err != nil {
			t.Fatal(err)
		}
		if err := l.Take(ctx, r, "person-1"); err != nil {
			t.Fatalf("take after a hit was given back: %v, want it counted", err)
		}
		if err := l.Take(ctx, r, "person-1"); apperr.CodeOf(err) != apperr.RateLimited {
			t.Fatalf("take past the limit after one hit was given back: %v, want rate_limited", err)
		}

		if err := l.Return(ctx, r, "person-2"); err != nil {
			t.Fatal(err)
		}
		res, err := k.Transact(ctx, []string{"PTTL", kv.CounterPrefix + "test-return:person-2"})
		if err != nil {
			t.Fatal(err)
		}
		if ms, _ := res[0].(int64); ms <= 0 || ms > r.Window.Milliseconds() {
			t.Errorf("a counter given back without a window has PTTL %v ms, want at most the rule's window", res[0])
		}
	})
}
