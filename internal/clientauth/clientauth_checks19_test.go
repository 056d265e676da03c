package clientauth_test

import (
	"strconv"
	"sync"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/clientauth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

// gate holds every comparison of a secret until each of total requests has either reached a
// comparison or returned without one: the requests then all race the budget together, as
// many sent at once do, with no timing in the test.
type gate struct {
	mu       sync.Mutex
	total    int
	settled  map[int]bool // request → compared
	compared int
	release  chan struct{}
}

func newGate(total int) *gate {
	return &gate{total: total, settled: map[int]bool{}, release: make(chan struct{})}
}

// compare notes that request i reached a comparison and waits for the others.
func (g *gate) compare(i int) {
	g.settle(i, true)
	<-g.release
}

// settle notes that request i reached a comparison (compared) or returned; the first note of
// each request counts.
func (g *gate) settle(i int, compared bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.settled[i]; ok {
		return
	}
	g.settled[i] = compared
	if compared {
		g.compared++
	}
	if len(g.settled) == g.total {
		close(g.release)
	}
}

// Wrong secrets sent at once for one client_id from one address are compared at most
// FailuresPerClientAddress times: the budget is counted before the secret is compared, not
// checked before and counted after, which let every request in flight pass the check.
func TestParallelWrongSecretsAreComparedAtMostTheBudget(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		db := storetest.SQLite(t)
		app, secret := newApp(t, db, "A")
		const budget, parallel = 5, 50
		g := newGate(parallel)
		guess := func(i int) string { return "lss_guess-" + strconv.Itoa(i) }
		request := map[string]int{}
		for i := range parallel {
			request[ids.Hash(guess(i))] = i
		}
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{
			FailuresPerClientAddress: ratelimit.Rule{Name: "t19-pair", N: budget},
			FailuresPerAddress:       ratelimit.Rule{Name: "t19-ip", N: 1000},
			FailuresPerClient:        ratelimit.Rule{Name: "t19-id", N: 1000}},
			Equal: func(a, b string) bool {
				if i, ok := request[a]; ok {
					g.compare(i)
				}
				return ids.Equal(a, b)
			}}
		var wg sync.WaitGroup
		errs := make([]error, parallel)
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Authenticate(from("198.51.100.7"), app.ID, guess(i))
				g.settle(i, false)
			}()
		}
		wg.Wait()
		var unauthorized int
		for _, err := range errs {
			switch e := apperr.As(err); {
			case e != nil && e.Code == apperr.Unauthorized:
				unauthorized++
			case e != nil && e.Code == apperr.RateLimited:
			default:
				t.Fatalf("wrong secret: %v", err)
			}
		}
		if g.compared > budget || unauthorized > budget {
			t.Fatalf("%d wrong secrets sent at once: %d compared, %d answered invalid_client, want at most %d (FailuresPerClientAddress)",
				parallel, g.compared, unauthorized, budget)
		}
		// The budget is spent: the right secret is refused from that address, as a guess is.
		if _, err := s.Authenticate(from("198.51.100.7"), app.ID, secret); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("right secret after the budget was spent: %v, want rate_limited", err)
		}
		// and passes from another address.
		if got, err := s.Authenticate(from("198.51.100.8"), app.ID, secret); err != nil || got.ID != app.ID {
			t.Fatalf("right secret from another address: %v, %v", got, err)
		}
	})
}
