package clientauth_test

import (
	"sync"
	"testing"

	"loginsign/internal/clientauth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

// TestABusyBackendsRightSecretIsNeverRefusedByItsOwnBurst: a backend that sends many requests
// at once (a cold cache after a restart, its pool of connections all busy) with the right
// secret is answered for every one of them, however small the failure budget of its client at
// its address. Counting a failure before the secret is compared (and giving it back on a
// match) would bound the comparisons of wrong secrets sent at once, but the right secrets in
// flight would spend the budget and the rest of the burst, and the cached requests beside it,
// would be refused: with secrets of 256 bits, that bound protects nothing.
func TestABusyBackendsRightSecretIsNeverRefusedByItsOwnBurst(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		db := storetest.SQLite(t)
		app, secret := newApp(t, db, "A")
		const budget, parallel = 5, 40
		var mu sync.Mutex
		arrived := 0
		release := make(chan struct{})
		right := ids.Hash(secret)
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{
			FailuresPerClientAddress: ratelimit.Rule{Name: "t20-pair", N: budget},
			FailuresPerAddress:       ratelimit.Rule{Name: "t20-ip", N: 1000},
			FailuresPerClient:        ratelimit.Rule{Name: "t20-id", N: 1000}},
			Equal: func(a, b string) bool {
				if a == right {
					// Every request of the burst is in flight before any is answered.
					mu.Lock()
					if arrived++; arrived == parallel {
						close(release)
					}
					mu.Unlock()
					<-release
				}
				return ids.Equal(a, b)
			}}
		var wg sync.WaitGroup
		errs := make(chan error, parallel)
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Authenticate(from("198.51.100.9"), app.ID, secret)
				errs <- err
				mu.Lock()
				if arrived < parallel { // refused before its comparison: let the others go
					arrived = parallel
					close(release)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("the right secret, %d at once from one address with a failure budget of %d: %v", parallel, budget, err)
			}
		}
	})
}
