package kv_test

import (
	"testing"
	"time"

	"loginsign/internal/kv/kvtest"
)

// A fixed window starts with its first hit and is not pushed back by later hits: once it has
// passed, the count starts again, however many hits came in it.
func TestLimitWindowIsFixedFromTheFirstHit(t *testing.T) {
	t.Parallel()
	s, clock := kvtest.EmbeddedClock(t)
	ctx := t.Context()
	if ok, _, err := s.Limit(ctx, "fixed", 2, time.Minute); !ok || err != nil {
		t.Fatalf("first hit: %v %v", ok, err)
	}
	clock.Advance(40 * time.Second)
	if ok, _, err := s.Limit(ctx, "fixed", 2, time.Minute); !ok || err != nil {
		t.Fatalf("second hit: %v %v", ok, err)
	}
	clock.Advance(10 * time.Second)
	ok, retry, err := s.Limit(ctx, "fixed", 2, time.Minute)
	if ok || err != nil {
		t.Fatalf("third hit 50s in: ok=%v err=%v, want refused", ok, err)
	}
	// The window ends 60s after the first hit: 10s from now, not a minute after a later hit.
	if retry <= 0 || retry > 10*time.Second {
		t.Fatalf("third hit 50s into a 1m window: retryAfter %v, want the 10s left of it", retry)
	}
	clock.Advance(11 * time.Second)
	if ok, _, err := s.Limit(ctx, "fixed", 2, time.Minute); !ok || err != nil {
		t.Fatalf("a hit 61s after the first: ok=%v err=%v, want a fresh window", ok, err)
	}
}

// Peek of a spent budget whose window is about to end still says to wait at least a second,
// and Peek counts nothing.
func TestPeekRetryIsAtLeastASecond(t *testing.T) {
	t.Parallel()
	s, clock := kvtest.EmbeddedClock(t)
	ctx := t.Context()
	s.Limit(ctx, "peek", 1, time.Minute)
	clock.Advance(59*time.Second + 700*time.Millisecond)
	ok, retry, err := s.Peek(ctx, "peek", 1)
	if ok || err != nil || retry < time.Second {
		t.Fatalf("Peek 300ms before the window ends: ok=%v retry=%v err=%v; want refused, at least 1s", ok, retry, err)
	}
	for range 3 {
		s.Peek(ctx, "peek", 2)
	}
	if ok, _, _ := s.Peek(ctx, "peek", 2); !ok {
		t.Fatal("Peek counted hits: a budget of 2 with one hit is spent")
	}
}
