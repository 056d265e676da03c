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

// TestASingleSlash64CannotSpendItsBusySlash48sWholeBudget: once a /48 is busy
// (ratelimit.NetworkSpread hits, made here by its neighbours), a /64 that had no counter was
// counted against the /48 alone, so it never had a counter that Take or Check saw past the
// rule's N: one rented server's /64 in its provider's busy /48 had sixteen times its budget
// (sign-in mails, codes tried, license codes redeemed, authorization requests, GraphQL cost).
// It now counts against a share of the /48 with the budget of one /64, for Take as for Check,
// and a hit given back by a /64 with no counter writes it none.
func TestASingleSlash64CannotSpendItsBusySlash48sWholeBudget(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		ctx := context.Background()
		l := ratelimit.New(k)
		r := ratelimit.Rule{Name: "share23", N: 5, Window: 15 * time.Minute}
		// Neighbours make the /48 busy, one hit each.
		for i := range ratelimit.NetworkSpread {
			if err := l.Take(ctx, r, fmt.Sprintf("2001:db8:77:%x::1", 100+i)); err != nil {
				t.Fatalf("neighbour %d: %v", i, err)
			}
		}
		thief := "2001:db8:77:1::9"
		allowed := 0
		for range 16 * r.N {
			err := l.Take(ctx, r, thief)
			if err == nil {
				allowed++
			} else if !apperr.Is(err, apperr.RateLimited) {
				t.Fatal(err)
			}
		}
		if allowed > r.N {
			t.Fatalf("one /64 of a busy /48 was allowed %d hits; want at most its own budget, %d", allowed, r.N)
		}
		if err := l.Check(ctx, r, thief); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("Check of a /64 that spent its share: %v, want RateLimited", err)
		}
		// A hit given back by a /64 with no counter of its own writes it none (a counter below
		// zero would be a budget of its own, and one more).
		fresh := "2001:db8:77:2::9"
		if err := l.Take(ctx, r, fresh); err != nil {
			t.Fatal(err)
		}
		if err := l.Return(ctx, r, fresh); err != nil {
			t.Fatal(err)
		}
		allowed = 0
		for range 16 * r.N {
			if err := l.Take(ctx, r, fresh); err == nil {
				allowed++
			}
		}
		if allowed > r.N {
			t.Fatalf("a /64 that was given back its one hit was allowed %d hits; want at most %d", allowed, r.N)
		}
		// Another /48 is not held back.
		if err := l.Take(ctx, r, "2001:db8:78:1::9"); err != nil {
			t.Fatalf("another /48: %v", err)
		}
	})
}

// TestCheckTakeRefusesASlash64ThatSpentItsShareOfABusySlash48: the client authentication's
// failures per client address are read by CheckTake (CheckTakeLater) and counted by Take. A
// /64 of a busy /48 with no counter of its own had its failures counted against the /48 alone,
// and CheckTake read only the /64's counter, which it never had: it could fail sixteen times
// its budget of client secrets tried. CheckTake reads the share the failures were counted
// against.
func TestCheckTakeRefusesASlash64ThatSpentItsShareOfABusySlash48(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		ctx := context.Background()
		l := ratelimit.New(k)
		failures := ratelimit.Rule{Name: "fail23", N: 3, Window: 15 * time.Minute}
		quota := ratelimit.Rule{Name: "quota23", N: 1000, Window: 15 * time.Minute}
		for i := range ratelimit.NetworkSpread {
			if err := l.Take(ctx, failures, fmt.Sprintf("client:2001:db8:79:%x::1", 100+i)); err != nil {
				t.Fatalf("neighbour %d: %v", i, err)
			}
		}
		thief := "client:2001:db8:79:1::9"
		for i := range failures.N {
			if err := l.Take(ctx, failures, thief); err != nil {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		checkErr, _, err := l.CheckTake(ctx, failures, thief, quota, "app23")
		if err != nil {
			t.Fatal(err)
		}
		if !apperr.Is(checkErr, apperr.RateLimited) {
			t.Fatalf("CheckTake of a /64 past its failures: %v, want RateLimited", checkErr)
		}
		// A quiet /64 of the same /48 whose share the thief did not spend is let through.
		for i := range 64 {
			other := fmt.Sprintf("client:2001:db8:79:%x::9", 200+i)
			checkErr, _, err := l.CheckTake(ctx, failures, other, quota, "app23")
			if err != nil {
				t.Fatal(err)
			}
			if checkErr == nil {
				return
			}
		}
		t.Fatal("every /64 of the /48 was refused; want those of other shares let through")
	})
}
