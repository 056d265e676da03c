package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
)

// counters is how many rate-limit counters of rule name the store holds (on the embedded
// store, which knows no KEYS, every key of the test's own store).
func counters(t *testing.T, s *kv.Store, name string) int {
	t.Helper()
	if s.Embedded {
		return s.Engine.Len()
	}
	keys, err := s.Keys(context.Background(), kv.CounterPrefix+name+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// slash64 is the i-th /64 of the /48 2001:db8:7::/48, as a full client address.
func slash64(i int) string { return fmt.Sprintf("2001:db8:7:%x::1", i) }

// One IPv6 /48 holds 65,536 /64s. Each /64 had a budget and a counter of its own, and counters
// stay until their window ends (the embedded store never evicts them): one /48 sending one
// request from each of its /64s kept 65,536 counters of every limit it could reach, so a few
// /48s filled the store. The /48 is now read before a /64 is counted: once it has spent
// Rule.Network, no /64 of it writes a counter.
func TestOneSlash48KeepsAboutItsNetworkBudgetOfCountersNotOnePerSlash64(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := context.Background()
		l := New(s)
		r := Rule{Name: "t17-flood", N: 30, Window: 15 * time.Minute}
		tries := 65_536
		if !s.Embedded {
			tries = 4096 // a round trip each on a real server
		}
		var refused int
		for i := range tries {
			err := l.Take(ctx, r, slash64(i))
			switch {
			case apperr.Is(err, apperr.RateLimited):
				refused++
			case err != nil:
				t.Fatal(err)
			}
		}
		kept := counters(t, s, r.Name)
		t.Logf("one /48, one request from each of %d /64s: %d counters kept, %d refused", tries, kept, refused)
		// The /64s that were counted (r.N × NetworkFactor of them), and the /48's own.
		if want := r.N*NetworkFactor + 1; kept > want {
			t.Errorf("one /48 kept %d counters of one rule, want at most %d", kept, want)
		}
		// Another /48 has a budget of its own; an IPv4 address is counted as before.
		if err := l.Take(ctx, r, "2001:db8:8::1"); err != nil {
			t.Errorf("another /48: %v", err)
		}
		if err := l.Take(ctx, r, "192.0.2.7"); err != nil {
			t.Errorf("an IPv4 address: %v", err)
		}
	})
}

// A /64 past its own budget spends none of its /48's: its refused hits are not counted
// against the network, so its neighbours keep theirs.
func TestASlash64PastItsBudgetSpendsNoneOfItsNeighbours(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := context.Background()
		l := New(s)
		r := Rule{Name: "t17-neighbour", N: 3, Window: time.Minute, Network: 5}
		for i := range 100 {
			err := l.Take(ctx, r, "2001:db8:9:1::"+fmt.Sprint(i+1))
			if i < 3 && err != nil || i >= 3 && !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("hit %d of one /64: %v", i, err)
			}
		}
		if err := l.Take(ctx, r, "2001:db8:9:2::1"); err != nil {
			t.Fatalf("a neighbour /64 after one /64 spent its own budget: %v", err)
		}
		if err := l.Take(ctx, r, "2001:db8:9:3::1"); err != nil {
			t.Fatalf("the /48's fifth hit: %v", err)
		}
		if err := l.Take(ctx, r, "2001:db8:9:4::1"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a /64 past the /48's budget of 5 (3 + 1 + 1 counted): %v, want RateLimited", err)
		}
	})
}

// A failure budget read with Check (and CheckTake) refuses a fresh /64 once its /48 has spent
// the network budget: a /48 does not get 65,536 budgets of wrong secrets.
func TestCheckRefusesAFreshSlash64OfASpentSlash48(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := context.Background()
		l := New(s)
		r := Rule{Name: "t17-failures", N: 2, Window: time.Minute, Network: 4}
		quota := Rule{Name: "t17-quota", N: 1000, Window: time.Minute}
		for i := range 4 {
			subject := "client:" + slash64(i)
			if err := l.Check(ctx, r, subject); err != nil {
				t.Fatalf("check %d: %v", i, err)
			}
			if err := l.Take(ctx, r, subject); err != nil {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		fresh := "client:" + slash64(100)
		if err := l.Check(ctx, r, fresh); !apperr.Is(err, apperr.RateLimited) {
			t.Errorf("Check of a fresh /64 of a spent /48: %v, want RateLimited", err)
		}
		checkErr, takeErr, err := l.CheckTake(ctx, r, fresh, quota, "app")
		if err != nil || takeErr != nil || !apperr.Is(checkErr, apperr.RateLimited) {
			t.Errorf("CheckTake of a fresh /64 of a spent /48: %v, %v, %v; want RateLimited, nil, nil", checkErr, takeErr, err)
		}
		if err := l.Check(ctx, r, "client:2001:db8:a::1"); err != nil {
			t.Errorf("another /48: %v", err)
		}
		// Return gives the /48's hit back too.
		if err := l.Return(ctx, r, "client:"+slash64(3)); err != nil {
			t.Fatal(err)
		}
		if err := l.Check(ctx, r, fresh); err != nil {
			t.Errorf("after a Return: %v", err)
		}
	})
}
