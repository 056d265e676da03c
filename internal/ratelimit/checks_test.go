package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
)

// A caller over a limit is always told to wait at least one second: a Retry-After of 0 would
// invite an immediate retry, and WriteError leaves the header out altogether when it is 0.
func TestRetryAfterIsAtLeastOneSecond(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		retry time.Duration
		want  int
	}{
		{0, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Millisecond, 2},
		{90 * time.Second, 90},
	} {
		e := ratelimit.Exceeded(tt.retry)
		if e.Code != apperr.RateLimited || e.RetryAfter != tt.want {
			t.Errorf("Exceeded(%s) = %s RetryAfter %d, want %s RetryAfter %d", tt.retry, e.Code, e.RetryAfter, apperr.RateLimited, tt.want)
		}
	}
}

// CheckTake refuses the counted subject once it is past its own rule, whatever the checked
// subject's budget: the take half is a limit in its own right, not a mere counter.
func TestCheckTakeRefusesTheTakenSubjectPastItsLimit(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		failures := ratelimit.Rule{Name: "checks-failures", N: 100, Window: time.Minute}
		quota := ratelimit.Rule{Name: "checks-quota", N: 2, Window: time.Minute}
		for i := range 2 {
			checkErr, takeErr, err := l.CheckTake(ctx, failures, "192.0.2.40", quota, "app-checks")
			if err != nil || checkErr != nil || takeErr != nil {
				t.Fatalf("hit %d within the quota: %v, %v, %v", i+1, checkErr, takeErr, err)
			}
		}
		checkErr, takeErr, err := l.CheckTake(ctx, failures, "192.0.2.40", quota, "app-checks")
		if err != nil || checkErr != nil {
			t.Fatalf("third hit: check %v, err %v; want neither", checkErr, err)
		}
		if e := apperr.As(takeErr); e == nil || e.Code != apperr.RateLimited || e.RetryAfter < 1 {
			t.Fatalf("third hit past a quota of 2: takeErr %v, want rate limited with a Retry-After", takeErr)
		}
	})
}

// TakeForUser counts the signed-in person; a caller who is not signed in is refused
// (Unauthorized) and counted nowhere, so signed-out callers never share one anonymous budget.
func TestTakeForUserRefusesTheSignedOut(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		one := ratelimit.Rule{Name: "checks-user", N: 1, Window: time.Minute}
		if err := l.TakeForUser(context.Background(), one); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("signed out: %v, want unauthorized", err)
		}
		ann := auth.WithSession(context.Background(), auth.Session{UserID: "usr_checks_ann"})
		if err := l.TakeForUser(ann, one); err != nil {
			t.Fatalf("Ann's first hit: %v", err)
		}
		if err := l.TakeForUser(ann, one); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("Ann's second hit: %v, want rate limited", err)
		}
		bob := auth.WithSession(context.Background(), auth.Session{UserID: "usr_checks_bob"})
		if err := l.TakeForUser(bob, one); err != nil {
			t.Fatalf("Bob after Ann: %v, want his own budget", err)
		}
		var none *ratelimit.Limiter
		if err := none.TakeForUser(context.Background(), one); err != nil {
			t.Fatalf("a nil limiter: %v, want nothing counted", err)
		}
	})
}
