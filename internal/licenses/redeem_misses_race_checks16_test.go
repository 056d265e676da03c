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
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestOnceAnApplicationsMissesAreSpentAHolderGetsOneGuessEvenAllAtOnce: once an application's
// MissesPerApplication are spent, each holder (a person's connection) is answered one miss in
// the window, and "costs an attacker an account connected to the application per further
// guess" (README, licenses.DefaultMissesPerApplication). The holder's miss was checked
// (Limiter.Check) before the code was looked up and counted (Take) only after: a holder that
// had not missed sent its guesses all at once, every one passed the check, and it was
// answered up to its PerHolder (20 a minute) instead of one. Now the holder's one miss is
// reserved before the look-up and given back when the code is found, so of sixteen guesses
// sent at once exactly one is answered code_not_found and the others 429; a right code still
// redeems, and after a hit the holder's one miss is still there.
func TestOnceAnApplicationsMissesAreSpentAHolderGetsOneGuessEvenAllAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		w.svc.Limits = licenses.RedeemLimits{
			PerAddress:           ratelimit.Rule{Name: "redeem:ip", N: 100000, Window: time.Minute},
			PerHolder:            ratelimit.Rule{Name: "redeem:holder", N: 100000, Window: time.Minute},
			MissesPerApplication: ratelimit.Rule{Name: "redeem-miss:app", N: 3, Window: time.Hour},
		}
		codes := w.codes(t, w.variant(t, "Premium", ""), 2)
		// Three accounts spend the application's misses.
		for i, g := range w.connectMany(t, w.app, 3) {
			_, err := w.svc.Redeem(asToken(g), "", fmt.Sprintf("SPEND-%d", i))
			wantErr(t, err, "code_not_found")
		}

		// The attacker's guesses overlap: the race is made certain by sending the others
		// while the first one looks its code up (after the checks, before its miss counts).
		const n = 16
		attacker := w.connect(t, w.person(t, "attacker"), w.app)
		errs := make([]error, n)
		var armed atomic.Bool
		db.LicenseCode.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				if armed.CompareAndSwap(true, false) {
					var wg sync.WaitGroup
					for i := 1; i < n; i++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							_, errs[i] = w.svc.Redeem(asToken(attacker), "", fmt.Sprintf("GUESS-%02d-ZZZZ", i))
						}()
					}
					wg.Wait()
				}
				return next.Query(ctx, q)
			})
		}))
		armed.Store(true)
		_, errs[0] = w.svc.Redeem(asToken(attacker), "", "GUESS-00-ZZZZ")
		if armed.Load() {
			t.Fatal("the look-up never ran")
		}
		answered, refused := 0, 0
		for _, err := range errs {
			switch apperr.As(err).Name() {
			case "code_not_found":
				answered++
			case "rate_limited":
				refused++
			default:
				t.Fatalf("a guess answered %v", err)
			}
		}
		if answered != 1 || refused != n-1 {
			t.Fatalf("%d guesses sent at once by one connection past the application's misses: %d answered code_not_found, %d rate_limited; want 1 answered, the rest rate_limited",
				n, answered, refused)
		}
		// Past its one miss the attacker learns nothing, even of a right code.
		_, err := w.svc.Redeem(asToken(attacker), "", codes[1])
		wantErr(t, err, "rate_limited")

		// A buyer's right code redeems, and leaves the buyer their one miss: a typo after it
		// is answered, the next guess is not.
		buyer := w.connect(t, w.person(t, "buyer"), w.app)
		got, err := w.svc.Redeem(asToken(buyer), "", codes[0])
		if err != nil {
			t.Fatalf("the buyer's right code past the application's misses: %v", err)
		}
		if got.LinkedConnectionID == nil || *got.LinkedConnectionID != buyer.ID {
			t.Fatalf("the buyer's code is held by %v", got.LinkedConnectionID)
		}
		_, err = w.svc.Redeem(asToken(buyer), "", "TYPO-AFTER-HIT")
		wantErr(t, err, "code_not_found")
		_, err = w.svc.Redeem(asToken(buyer), "", "SECOND-GUESS")
		wantErr(t, err, "rate_limited")
	})
}
