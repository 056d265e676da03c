package kv_test

import (
	"strconv"
	"testing"
	"time"

	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
)

// TestTwoLimitsShareACounterInFields: LimitField counts two limits of the same window in one
// key, each against its own limit, the same on the embedded store and on Redis.
func TestTwoLimitsShareACounterInFields(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := t.Context()
		before, err := s.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if ok, _, err := s.LimitField(ctx, "f24", 1, 3, time.Hour); !ok || err != nil {
				t.Fatalf("field 1, hit %d of 3: ok=%v err=%v", i+1, ok, err)
			}
		}
		if ok, retry, err := s.LimitField(ctx, "f24", 1, 3, time.Hour); ok || err != nil || retry <= 0 || retry > time.Hour {
			t.Fatalf("field 1, hit 4 of 3: ok=%v retry=%v err=%v; want refused within the hour", ok, retry, err)
		}
		for i := range 2 {
			if ok, _, err := s.LimitField(ctx, "f24", 0, 2, time.Hour); !ok || err != nil {
				t.Fatalf("field 0 after field 1 spent, hit %d of 2: ok=%v err=%v", i+1, ok, err)
			}
		}
		if ok, _, err := s.LimitField(ctx, "f24", 0, 2, time.Hour); ok || err != nil {
			t.Fatalf("field 0, hit 3 of 2: ok=%v err=%v; want refused", ok, err)
		}
		after, err := s.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if after-before != 1 {
			t.Fatalf("two fields wrote %d keys; want one", after-before)
		}
		v, err := s.Get(ctx, kv.CounterPrefix+"f24").Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.FormatInt(4<<32+3, 10); v != want {
			t.Fatalf("the counter holds %s; want %s (4 hits of field 1, 3 of field 0)", v, want)
		}
		if ttl, err := s.PTTL(ctx, kv.CounterPrefix+"f24").Result(); err != nil || ttl <= 0 || ttl > time.Hour {
			t.Fatalf("the counter's TTL: %v %v; want the window's", ttl, err)
		}
	})
}

// The shared counter's window starts with the first hit of either field, and both start
// again once it has passed.
func TestFieldsShareTheirWindow(t *testing.T) {
	t.Parallel()
	s, clock := kvtest.EmbeddedClock(t)
	ctx := t.Context()
	s.LimitField(ctx, "w24", 0, 1, time.Minute)
	clock.Advance(40 * time.Second)
	s.LimitField(ctx, "w24", 1, 1, time.Minute)
	if ok, retry, err := s.LimitField(ctx, "w24", 1, 1, time.Minute); ok || err != nil || retry > 20*time.Second {
		t.Fatalf("field 1 spent 40s into the window: ok=%v retry=%v err=%v; want refused for the 20s left", ok, retry, err)
	}
	clock.Advance(21 * time.Second)
	for field := range 2 {
		if ok, _, err := s.LimitField(ctx, "w24", field, 1, time.Minute); !ok || err != nil {
			t.Fatalf("field %d after the window: ok=%v err=%v; want a fresh window", field, ok, err)
		}
	}
}
