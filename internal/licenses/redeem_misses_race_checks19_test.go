package licenses_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

// lookupGate holds every look-up of a license code until each of total redemptions has
// either reached its look-up or returned without one, so that they all race the budgets
// together, as redemptions sent at once do, with no timing in the test. A redemption that
// reached its look-up is held until the release, so before it every redemption that returned
// returned without one.
type lookupGate struct {
	mu                 sync.Mutex
	total              int
	lookedUp, returned int
	release            chan struct{}
	released           bool
}

func (g *lookupGate) note(lookedUp bool) (wait bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released {
		return false
	}
	if lookedUp {
		g.lookedUp++
	} else {
		g.returned++
	}
	if g.lookedUp+g.returned == g.total {
		g.released = true
		close(g.release)
	}
	return lookedUp
}

// TestAnApplicationsMissesHoldForGuessesSentAtOnce: the application's MissesPerApplication
// were checked before the code was looked up and counted only after a miss, so guesses sent
// at once all passed the check while the budget was unspent: an attacker's accounts, each
// sending its PerHolder at once, were answered that many misses each, not the application's
// budget and one miss per account. Now a miss of the application is counted before the
// look-up and given back when the code is found: of 50 guesses by one account sent at once
// against a budget of 3, at most 3 and the account's one miss are looked up and answered
// code_not_found; the rest answer 429.
func TestAnApplicationsMissesHoldForGuessesSentAtOnce(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		db := storetest.SQLite(t)
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(k)
		const budget, n = 3, 50
		w.svc.Limits = licenses.RedeemLimits{
			PerAddress:           ratelimit.Rule{Name: "redeem:ip", N: 100000, Window: time.Minute},
			PerHolder:            ratelimit.Rule{Name: "redeem:holder", N: 100000, Window: time.Minute},
			MissesPerApplication: ratelimit.Rule{Name: "redeem-miss:app", N: budget, Window: time.Hour},
		}
		codes := w.codes(t, w.variant(t, "Premium", ""), 1)
		attacker := w.connect(t, w.person(t, "attacker"), w.app)

		var gate atomic.Pointer[lookupGate]
		db.LicenseCode.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				if g := gate.Load(); g != nil && g.note(true) {
					<-g.release
				}
				return next.Query(ctx, q)
			})
		}))
		g := &lookupGate{total: n, release: make(chan struct{})}
		gate.Store(g)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = w.svc.Redeem(asToken(attacker), "", fmt.Sprintf("GUESS-%02d-ZZZZ", i))
				g.note(false)
			})
		}
		wg.Wait()
		gate.Store(nil)
		answered := 0
		for _, err := range errs {
			switch apperr.As(err).Name() {
			case "code_not_found":
				answered++
			case "rate_limited":
			default:
				t.Fatalf("a guess answered %v", err)
			}
		}
		if answered > budget+1 || g.lookedUp > budget+1 {
			t.Fatalf("%d guesses sent at once by one connection, the application's misses %d: %d looked up, %d answered code_not_found; want at most %d (the application's misses and the connection's one)",
				n, budget, g.lookedUp, answered, budget+1)
		}
		// A buyer who has not missed still redeems a right code.
		buyer := w.connect(t, w.person(t, "buyer"), w.app)
		if _, err := w.svc.Redeem(asToken(buyer), "", codes[0]); err != nil {
			t.Fatalf("the buyer's right code once the misses are spent: %v", err)
		}
	})
}
