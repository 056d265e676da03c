package mfa_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// raceGate holds every evaluation of a code (the one read of the clock a wrong 6-digit code
// makes) until each of total requests has either reached an evaluation or returned without
// one, so that they all race the budget together, as requests sent at once do, with no timing
// in the test. A request that reached one is held until the release, so before it every
// request that returned returned without one.
type raceGate struct {
	mu                  sync.Mutex
	total               int
	evaluated, returned int
	release             chan struct{}
	released            bool
}

func (g *raceGate) note(evaluated bool) (wait bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released {
		return false
	}
	if evaluated {
		g.evaluated++
	} else {
		g.returned++
	}
	if g.evaluated+g.returned == g.total {
		g.released = true
		close(g.release)
	}
	return evaluated
}

// Wrong codes sent at once at the second step, in new browsers and in one known browser, are
// evaluated at most as many times as the day's budget of wrong codes allows: the budget is
// counted before the code is evaluated (and given back when it is right), not checked before
// and counted after, which let every request in flight pass the check.
func TestParallelWrongCodesAreEvaluatedAtMostTheDaysBudget(t *testing.T) {
	t.Parallel()
	for _, browser := range []string{"", "copied-cookie"} {
		name := "new browsers"
		if browser != "" {
			name = "a known browser"
		}
		t.Run(name, func(t *testing.T) {
			kvtest.Run(t, func(t *testing.T, k *kv.Store) {
				db := storetest.SQLite(t)
				t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
				var gate atomic.Pointer[raceGate]
				now := func() time.Time {
					if g := gate.Load(); g != nil && g.note(true) {
						<-g.release
					}
					return t0
				}
				s := clockedService(t, db, k, &t0)
				s.Now = now
				const budget, parallel = 5, 50
				s.NewBrowserFailures.N, s.KnownBrowserFailures.N = budget, budget
				ann := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB1901").SaveX(context.Background())
				secret, codes := enrolSecret(t, s, auth.WithSession(context.Background(), auth.Session{UserID: ann.ID, SignedInAt: t0}), t0)
				c := codeAt(t, secret, t0)
				wrong := string('0'+(c[0]-'0'+1)%10) + c[1:]

				g := &raceGate{total: parallel, release: make(chan struct{})}
				gate.Store(g)
				var wg sync.WaitGroup
				var invalid atomic.Int32
				for range parallel {
					wg.Go(func() {
						_, err := s.VerifyIn(context.Background(), ann.ID, browser, wrong)
						g.note(false)
						switch {
						case apperr.Is(err, apperr.Invalid):
							invalid.Add(1)
						case !apperr.Is(err, apperr.RateLimited):
							t.Errorf("wrong code: %v", err)
						}
					})
				}
				wg.Wait()
				gate.Store(nil)
				if g.evaluated > budget || invalid.Load() > budget {
					t.Fatalf("%d wrong codes sent at once: %d evaluated, %d answered Invalid; want at most %d (the day's wrong codes)",
						parallel, g.evaluated, invalid.Load(), budget)
				}
				// The day's budget is spent: even a right recovery code is refused there.
				if _, err := s.VerifyIn(context.Background(), ann.ID, browser, codes[0]); !apperr.Is(err, apperr.RateLimited) {
					t.Fatalf("a recovery code once the budget is spent: %v, want RateLimited", err)
				}
			})
		})
	}
}
