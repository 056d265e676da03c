package ratelimit_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
)

// Two rules with different names keep separate counters for one subject: spending one does
// not spend the other.
func TestRulesOfOtherNamesCountApart(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		mails := ratelimit.Rule{Name: "checks3-mails", N: 1, Window: time.Minute}
		codes := ratelimit.Rule{Name: "checks3-codes", N: 1, Window: time.Minute}
		if err := l.Take(ctx, mails, "192.0.2.77"); err != nil {
			t.Fatalf("first mail: %v", err)
		}
		if err := l.Take(ctx, codes, "192.0.2.77"); err != nil {
			t.Fatalf("first code after a mail: %v, want its own budget", err)
		}
		if err := l.Take(ctx, mails, "192.0.2.77"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("second mail: %v, want rate limited", err)
		}
	})
}

// Check counts nothing: any number of checks leave the whole budget to Take.
func TestCheckDoesNotSpendTheBudget(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		failures := ratelimit.Rule{Name: "checks3-failures", N: 2, Window: time.Minute}
		for i := range 5 {
			if err := l.Check(ctx, failures, "usr_checks3"); err != nil {
				t.Fatalf("check %d of an unspent budget: %v", i+1, err)
			}
		}
		for i := range 2 {
			if err := l.Take(ctx, failures, "usr_checks3"); err != nil {
				t.Fatalf("failure %d of 2 after the checks: %v, want counted within the budget", i+1, err)
			}
		}
		if err := l.Check(ctx, failures, "usr_checks3"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("check of a spent budget: %v, want rate limited", err)
		}
	})
}

// TakeN counts its weight: 5 at once is over a limit of 4, and 3 then 2 is too.
func TestTakeNCountsItsWeight(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		cost := ratelimit.Rule{Name: "checks3-cost", N: 4, Window: time.Minute}
		if err := l.TakeN(ctx, cost, "app-a", 5); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a cost of 5 against a limit of 4: %v, want rate limited", err)
		}
		if err := l.TakeN(ctx, cost, "app-b", 3); err != nil {
			t.Fatalf("a cost of 3 of 4: %v", err)
		}
		if err := l.TakeN(ctx, cost, "app-b", 2); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a cost of 2 after 3 of 4: %v, want rate limited", err)
		}
	})
}

// A rule's Message names the seconds to wait in place of %d, and they are the RetryAfter.
func TestExceededMessageNamesTheWait(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		r := ratelimit.Rule{Name: "checks3-msg", N: 1, Window: time.Minute, Message: "too many codes; try again in %d seconds"}
		l.Take(ctx, r, "usr_checks3_msg")
		e := apperr.As(l.Take(ctx, r, "usr_checks3_msg"))
		if e == nil || e.Code != apperr.RateLimited || e.RetryAfter < 1 || e.RetryAfter > 60 {
			t.Fatalf("second hit: %v, want rate limited with RetryAfter in 1..60", e)
		}
		if want := "try again in " + strconv.Itoa(e.RetryAfter) + " seconds"; !strings.Contains(e.Message, want) || strings.Contains(e.Message, "%d") {
			t.Fatalf("message %q, want it to contain %q", e.Message, want)
		}
	})
}

// Or fills what r leaves zero or negative from def and keeps what r sets.
func TestRuleOrFillsTheZeroFields(t *testing.T) {
	t.Parallel()
	def := ratelimit.Rule{Name: "def", N: 5, Window: time.Minute, Message: "slow down"}
	for _, tt := range []struct {
		r, want ratelimit.Rule
	}{
		{ratelimit.Rule{}, def},
		{ratelimit.Rule{N: -1, Window: -time.Second}, def},
		{ratelimit.Rule{Name: "own", N: 2, Window: time.Hour, Message: "m"}, ratelimit.Rule{Name: "own", N: 2, Window: time.Hour, Message: "m"}},
	} {
		if got := tt.r.Or(def); got != tt.want {
			t.Errorf("%+v.Or(%+v) = %+v, want %+v", tt.r, def, got, tt.want)
		}
	}
}

// CheckTake reports a spent check budget as checkErr, with the time left in its window.
func TestCheckTakeReportsASpentCheckBudget(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		failures := ratelimit.Rule{Name: "checks3-ct-failures", N: 1, Window: time.Minute}
		quota := ratelimit.Rule{Name: "checks3-ct-quota", N: 100, Window: time.Minute}
		if err := l.Take(ctx, failures, "192.0.2.88"); err != nil {
			t.Fatal(err)
		}
		checkErr, takeErr, err := l.CheckTake(ctx, failures, "192.0.2.88", quota, "app-ct")
		if e := apperr.As(checkErr); err != nil || takeErr != nil || e == nil || e.Code != apperr.RateLimited || e.RetryAfter < 1 {
			t.Fatalf("CheckTake of a spent budget: check %v, take %v, err %v; want check rate limited with a Retry-After", checkErr, takeErr, err)
		}
		// The /64 of an IPv6 check subject after a kind is kept apart from the bare /64.
		if err := l.Take(ctx, failures, "ip:2001:db8:77::1"); err != nil {
			t.Fatal(err)
		}
		if err := l.Check(ctx, failures, "2001:db8:77::2"); err != nil {
			t.Fatalf("the bare /64 after \"ip:\" of it was spent: %v, want its own budget", err)
		}
	})
}
