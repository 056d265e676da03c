package identity_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func TestSessions(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		ctx := context.Background()
		clk := newClock()
		s := identity.NewSessions(k, clk.Now, identity.SessionConfig{Idle: time.Hour, Absolute: 3 * time.Hour})

		raw, err := s.Create(ctx, "usr_a", "test-agent", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Lookup(ctx, raw)
		if err != nil || got.UserID != "usr_a" || got.ID == raw || got.ID == "" {
			t.Fatalf("Lookup = %+v, %v; want usr_a named by a hash, not the raw id", got, err)
		}
		second, _ := s.Create(ctx, "usr_a", "other", "127.0.0.2")
		if second == raw {
			t.Fatal("two sign-ins share a session id")
		}
		list, err := s.List(ctx, "usr_a")
		if err != nil || len(list) != 2 {
			t.Fatalf("List = %d sessions, %v; want 2", len(list), err)
		}

		// Absolute timeout: used every 50 minutes (never idle), the session still ends at 3 h.
		for range 3 {
			clk.Add(50 * time.Minute)
			if _, err := s.Lookup(ctx, raw); err != nil {
				t.Fatalf("active session ended early: %v", err)
			}
		}
		clk.Add(31 * time.Minute)
		if _, err := s.Lookup(ctx, raw); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("after the absolute timeout: %v, want Unauthorized", err)
		}

		// Sign out others keeps the current one.
		third, _ := s.Create(ctx, "usr_a", "", "")
		cur, _ := s.Lookup(ctx, third)
		n, err := s.DeleteAll(ctx, "usr_a", cur.ID)
		if err != nil || n < 1 {
			t.Fatalf("DeleteAll = %d, %v", n, err)
		}
		if _, err := s.Lookup(ctx, second); err == nil {
			t.Fatal("another session survived sign-out-others")
		}
		if _, err := s.Lookup(ctx, third); err != nil {
			t.Fatalf("the current session was ended: %v", err)
		}
		if err := s.Delete(ctx, third); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, third); err == nil {
			t.Fatal("session survived sign-out")
		}
		for _, bad := range []string{"", "nope", string(make([]byte, 500))} {
			if _, err := s.Lookup(ctx, bad); !apperr.Is(err, apperr.Unauthorized) {
				t.Fatalf("Lookup(%q) = %v, want Unauthorized", bad, err)
			}
		}
	})
}

// TestSessionTimeouts: use keeps a session alive past its idle timeout; a session unused for
// the idle timeout ends (Redis expires its key), and so does one older than the absolute
// timeout however much it is used. The store's clock is the test's (kvtest.EmbeddedClock),
// so nothing waits; EXPIRE itself behaves the same on real Redis (the kv contract test).
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k, clk := kvtest.EmbeddedClock(t)
	s := identity.NewSessions(k, clk.Now, identity.SessionConfig{Idle: time.Minute, Absolute: 2 * time.Hour})
	idle, _ := s.Create(ctx, "usr_b", "", "")
	for i := 0; i < 3; i++ { // 3 × 40 s: used within the idle timeout each time
		clk.Advance(40 * time.Second)
		if _, err := s.Lookup(ctx, idle); err != nil {
			t.Fatalf("a session in use ended after %d lookups: %v", i, err)
		}
	}
	clk.Advance(time.Minute + time.Second)
	if _, err := s.Lookup(ctx, idle); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("idle session still valid: %v", err)
	}

	s = identity.NewSessions(k, clk.Now, identity.SessionConfig{Idle: time.Hour, Absolute: 2 * time.Hour})
	abs, _ := s.Create(ctx, "usr_b", "", "")
	for i := 0; i < 2; i++ { // used every 50 minutes: never idle
		clk.Advance(50 * time.Minute)
		if _, err := s.Lookup(ctx, abs); err != nil {
			t.Fatalf("session ended before the absolute timeout: %v", err)
		}
	}
	clk.Advance(21 * time.Minute) // 2 h 1 min after sign-in, 21 min after the last use
	if _, err := s.Lookup(ctx, abs); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("session still valid after the absolute timeout: %v", err)
	}
}

// TestSessionIndexDropsEndedSessions: a person's index of sessions, extended by every sign-in,
// drops the sessions that ended once it passes 64, so signing in again and again without ever
// listing the sessions does not grow it without end; live sessions stay in it.
func TestSessionIndexDropsEndedSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k, clk := kvtest.EmbeddedClock(t)
	s := identity.NewSessions(k, clk.Now, identity.SessionConfig{Idle: time.Hour, Absolute: 48 * time.Hour})
	indexed := func() int64 {
		t.Helper()
		n, err := k.SCard(ctx, "usess:usr_c").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var live []string
	for day := range 3 {
		for range 40 {
			raw, err := s.Create(ctx, "usr_c", "", "")
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, raw)
		}
		if n := indexed(); n > 40+64 {
			t.Fatalf("day %d: the index holds %d sessions, 40 of them live", day, n)
		}
		if day < 2 {
			live = live[:0]
			clk.Advance(2 * time.Hour) // the day's sessions end (idle)
		}
	}
	if n := indexed(); n < int64(len(live)) {
		t.Fatalf("the index holds %d sessions, fewer than the %d live", n, len(live))
	}
	for _, raw := range live {
		if _, err := s.Lookup(ctx, raw); err != nil {
			t.Fatalf("a live session ended: %v", err)
		}
	}
	list, err := s.List(ctx, "usr_c")
	if err != nil || len(list) != len(live) {
		t.Fatalf("listed %d sessions (%v), want the %d live", len(list), err, len(live))
	}
}
