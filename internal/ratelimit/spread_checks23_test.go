package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
)

// TestASlash48CannotSpreadCountersOverItsSlash64s: each /64 of an IPv6 /48 had a counter of
// its own per rule, which the embedded store never evicts and keeps to half its keys: one /48
// asking from a new /64 each time kept up to the /48's whole budget of counters live per rule
// (9,600 for the authorization requests' quarter of an hour), so some fifty /48s kept the half
// full, and then every new counter on the server, so every sign-in, answered 503. Once the /48
// is busy (ratelimit.NetworkSpread hits), a /64 with no counter yet gets none: the /48 still
// caps them all, and a /64 already counted keeps its own budget.
func TestASlash48CannotSpreadCountersOverItsSlash64s(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		ctx := context.Background()
		l := ratelimit.New(k)
		r := ratelimit.Rule{Name: "spread23", N: 600, Window: 15 * time.Minute}
		before, err := k.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		// The first /64 spends its own budget while the /48 is quiet.
		first := "2001:db8:23:1::1"
		for i := range r.N {
			if err := l.Take(ctx, r, first); err != nil {
				t.Fatalf("hit %d of the first /64: %v", i+1, err)
			}
		}
		allowed, network := r.N, 16*r.N
		for i := range network {
			err := l.Take(ctx, r, fmt.Sprintf("2001:db8:23:%x::1", i+2))
			switch {
			case err == nil:
				allowed++
			case apperr.Is(err, apperr.RateLimited):
			default:
				t.Fatal(err)
			}
		}
		if allowed != network {
			t.Fatalf("the /48 was allowed %d hits; want its budget, %d", allowed, network)
		}
		after, err := k.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		// NetworkSpread /64s of their own, NetworkSpread shares, the /48 and its count of /64s.
		if written := after - before; written > 2*ratelimit.NetworkSpread+2 {
			t.Fatalf("one /48 asking from %d /64s wrote %d counters; want at most %d", network+1, written, 2*ratelimit.NetworkSpread+2)
		}
		// Another /48 is not held back; the first /64 is still past its own budget.
		if err := l.Take(ctx, r, "2001:db8:24::1"); err != nil {
			t.Fatalf("another /48: %v", err)
		}
		other := ratelimit.Rule{Name: "spread23b", N: 2, Window: 15 * time.Minute}
		for range ratelimit.NetworkSpread {
			_ = l.Take(ctx, other, "2001:db8:25:1::1")
		}
		for i := range other.N {
			_ = l.Take(ctx, other, fmt.Sprintf("2001:db8:25:%x::1", 100+i))
		}
		if err := l.Take(ctx, other, "2001:db8:25:1::1"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a /64 counted before its /48 grew busy, past its own budget: %v, want RateLimited", err)
		}
	})
}

// BenchmarkTakeIPv6 is Take of an IPv6 subject, the /48 read with its /64's existence in one
// round trip (TakeN), on the embedded store.
func BenchmarkTakeIPv6(b *testing.B) {
	k := kvtest.Embedded(b)
	l := ratelimit.New(k)
	r := ratelimit.Rule{Name: "bench23", N: 1 << 30, Window: time.Hour, Network: 1 << 30}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := l.Take(ctx, r, fmt.Sprintf("2001:db8:%x:%x::1", i%4096, i%64)); err != nil {
			b.Fatal(err)
		}
	}
}
