package clientauth_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/clientauth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// run runs fn on every SQL backend with every Redis.
func run(t *testing.T, fn func(t *testing.T, db *store.DB, k *kv.Store)) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		kvtest.Run(t, func(t *testing.T, k *kv.Store) { fn(t, db, k) })
	})
}

func newApp(t *testing.T, db *store.DB, name string) (*ent.Application, string) {
	t.Helper()
	ctx := context.Background()
	dev, err := db.User.Query().First(ctx)
	if store.NotFound(err) {
		dev, err = db.User.Create().SetGlobalID("ZZ0001").SetEmail("dev@example.com").Save(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	secret := ids.Secret("lss_")
	app, err := db.Application.Create().SetOwnerID(dev.ID).SetName(name).SetSecretHash(ids.Hash(secret)).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return app, secret
}

// from is a context of a request sent from ip.
func from(ip string) context.Context { return auth.WithClientIP(context.Background(), ip) }

func TestAuthenticateAnswersOneWayForEveryBadCredential(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		app, secret := newApp(t, db, "A")
		other, _ := newApp(t, db, "B")
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k)}
		got, err := s.Authenticate(from("192.0.2.1"), app.ID, secret)
		if err != nil || got.ID != app.ID {
			t.Fatalf("right credentials: %v, %v", got, err)
		}
		for _, tt := range []struct{ name, id, secret string }{
			{"wrong secret", app.ID, secret + "x"},
			{"another application's id", other.ID, secret},
			{"unknown application", "app_nope", secret},
			{"the id and more after a colon", app.ID + ":192.0.2.2", secret},
			{"empty secret", app.ID, ""},
			{"empty id", "", secret},
			{"overlong id", string(make([]byte, 65)), secret},
			{"overlong secret", app.ID, string(make([]byte, 300))},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Authenticate(from("192.0.2.2"), tt.id, tt.secret)
				if e := apperr.As(err); e.Code != apperr.Unauthorized || e.Name() != "invalid_client" {
					t.Fatalf("err = %v, want invalid_client", err)
				}
			})
		}
	})
}

// The finding of issue 16: 610 wrong secrets for a public client_id from 10 addresses kept
// the real backend at 429. Failures now lock out the client_id only at the addresses that
// fail; the right secret passes from anywhere else, however many failures its client_id has
// seen.
func TestLockedOutAttackerDoesNotLockOutTheClient(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		app, secret := newApp(t, db, "A")
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{
			FailuresPerClientAddress: ratelimit.Rule{N: 5}, FailuresPerClient: ratelimit.Rule{N: 20}}}
		var limited int
		for i := range 61 {
			attacker := from("198.51.100." + string(rune('1'+i%10)))
			_, err := s.Authenticate(attacker, app.ID, "lss_guess")
			switch e := apperr.As(err); {
			case e.Code == apperr.RateLimited && e.RetryAfter >= 1:
				limited++
			case e.Code == apperr.Unauthorized:
			default:
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		if limited == 0 {
			t.Fatal("61 wrong secrets from 10 addresses were never rate limited")
		}
		// Where the client_id spent its budget, it is refused before its secret is checked,
		// even the right one: past the budget a guess learns nothing.
		if _, err := s.Authenticate(from("198.51.100.1"), app.ID, secret); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("right secret from an address where the client_id is locked out: %v, want rate_limited", err)
		}
		// The backend, from its own address, is never refused.
		for i := range 30 {
			if got, err := s.Authenticate(from("203.0.113.7"), app.ID, secret); err != nil || got.ID != app.ID {
				t.Fatalf("backend call %d: %v", i+1, err)
			}
		}
		// Wrong secrets for the attacked client_id answer 429 from a fresh address too.
		if _, err := s.Authenticate(from("203.0.113.99"), app.ID, "lss_guess"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("wrong secret once the client's failure budget is spent: %v, want rate_limited", err)
		}
	})
}

// Successful calls are limited only by the application's own quota.
func TestQuotaOfSuccessfulCalls(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		app, secret := newApp(t, db, "A")
		other, otherSecret := newApp(t, db, "B")
		if app.ClientRequestsPerMinute != 60000 {
			t.Fatalf("default quota = %d, want 60000", app.ClientRequestsPerMinute)
		}
		ctx := context.Background()
		if err := db.Application.UpdateOneID(app.ID).SetClientRequestsPerMinute(3).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{QuotaWindow: time.Hour}}
		for i := range 3 {
			if _, err := s.Authenticate(from("192.0.2.1"), app.ID, secret); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
		}
		_, err := s.Authenticate(from("192.0.2.2"), app.ID, secret)
		if e := apperr.As(err); e.Code != apperr.RateLimited || e.RetryAfter < 1 {
			t.Fatalf("4th call = %v, want rate_limited with RetryAfter", err)
		}
		if _, err := s.Authenticate(from("192.0.2.1"), other.ID, otherSecret); err != nil {
			t.Fatalf("another application: %v", err)
		}
	})
}

// A Service made with New reuses the application row of a successful authentication for
// CacheTTL. Every change to the application through the same database client is seen at
// once (secret rotation, quota, deletion, in or out of a transaction); a wrong secret is
// still refused and counted; a change made by another process is seen within CacheTTL.
func TestCachedApplicationFollowsEveryChange(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		ctx := context.Background()
		app, secret := newApp(t, db, "Cached")
		s := clientauth.New(db, ratelimit.New(k))
		s.Limits.FailuresPerClient = ratelimit.Rule{Name: "cache-fail:id", N: 2, Window: time.Minute}
		ok := func(secret string) {
			t.Helper()
			if got, err := s.Authenticate(from("192.0.2.30"), app.ID, secret); err != nil || got.ID != app.ID {
				t.Fatalf("right secret: %v, %v", got, err)
			}
		}
		refused := func(secret string, code apperr.Code) {
			t.Helper()
			if _, err := s.Authenticate(from("192.0.2.31"), app.ID, secret); apperr.As(err).Code != code {
				t.Fatalf("err = %v, want %s", err, code)
			}
		}
		ok(secret)
		ok(secret)
		// Wrong secrets against a cached row: refused, counted, then rate limited.
		refused(secret+"x", apperr.Unauthorized)
		refused(secret+"x", apperr.Unauthorized)
		refused(secret+"x", apperr.RateLimited)
		ok(secret)

		// Rotation through the client: the old secret is refused at once, the new one passes.
		rotated := ids.Secret("lss_")
		if err := db.Application.UpdateOneID(app.ID).SetSecretHash(ids.Hash(rotated)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		refused(secret, apperr.RateLimited) // the client_id's failure budget is spent
		ok(rotated)

		// Rotation in a transaction: seen once committed.
		again := ids.Secret("lss_")
		if err := db.Tx(ctx, func(tx *ent.Tx) error {
			return tx.Application.UpdateOneID(app.ID).SetSecretHash(ids.Hash(again)).Exec(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(from("192.0.2.32"), app.ID, rotated); err == nil {
			t.Fatal("the secret rotated away in a committed transaction still passes")
		}
		ok(again)

		// A quota change applies to the next request.
		if err := db.Application.UpdateOneID(app.ID).SetClientRequestsPerMinute(1).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(from("192.0.2.30"), app.ID, again); err != nil {
			// The first request of the new quota may pass or find the window already used.
			if apperr.As(err).Code != apperr.RateLimited {
				t.Fatal(err)
			}
		}
		if _, err := s.Authenticate(from("192.0.2.30"), app.ID, again); apperr.As(err).Code != apperr.RateLimited {
			t.Fatalf("over the new quota of 1 per minute: %v", err)
		}

		// Deletion: refused at once.
		if err := db.Application.DeleteOneID(app.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(from("192.0.2.33"), app.ID, again); err == nil {
			t.Fatal("a deleted application still authenticates")
		}

		// Another process (a second client on the same database, without the hook): its
		// rotation is seen within CacheTTL.
		app2, secret2 := newApp(t, db, "Elsewhere")
		s.CacheTTL = 100 * time.Millisecond
		if _, err := s.Authenticate(from("192.0.2.34"), app2.ID, secret2); err != nil {
			t.Fatal(err)
		}
		other := ent.NewClient(ent.Driver(entsql.OpenDB(db.Dialect, db.SQL)))
		if err := other.Application.UpdateOneID(app2.ID).SetSecretHash(ids.Hash(ids.Secret("lss_"))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// Within CacheTTL the cached row may still answer; after it, the rotation is seen.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, err := s.Authenticate(from("192.0.2.34"), app2.ID, secret2)
			if apperr.As(err).Code == apperr.Unauthorized {
				break
			}
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("rotated by another process, 10 s after CacheTTL: %v", err)
			}
		}
	})
}

// With the row cached, both limits are read in one round trip and both still hold: a client_id
// that spent its failure budget at an address is refused there even with the right secret, and
// the application's quota counts every call made with its secret (the refused one included).
func TestCachedPathKeepsBothLimits(t *testing.T) {
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		ctx := context.Background()
		app, secret := newApp(t, db, "Limited")
		if err := db.Application.UpdateOneID(app.ID).SetClientRequestsPerMinute(4).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		s := clientauth.New(db, ratelimit.New(k))
		s.Limits = clientauth.Limits{FailuresPerClientAddress: ratelimit.Rule{Name: "cp-fail:id-ip", N: 2, Window: time.Minute},
			QuotaWindow: time.Hour}
		for i := range 2 { // the first reads the row, the second finds it cached
			if _, err := s.Authenticate(from("192.0.2.40"), app.ID, secret); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
		}
		for range 2 {
			if _, err := s.Authenticate(from("192.0.2.41"), app.ID, secret+"x"); apperr.As(err).Code != apperr.Unauthorized {
				t.Fatalf("wrong secret: %v", err)
			}
		}
		if _, err := s.Authenticate(from("192.0.2.41"), app.ID, secret); apperr.As(err).Code != apperr.RateLimited {
			t.Fatalf("right secret where the client_id is locked out, row cached: %v, want rate_limited", err)
		}
		if _, err := s.Authenticate(from("192.0.2.40"), app.ID, secret); err != nil {
			t.Fatalf("4th call within the quota: %v", err)
		}
		if _, err := s.Authenticate(from("192.0.2.40"), app.ID, secret); apperr.As(err).Code != apperr.RateLimited {
			t.Fatalf("5th call over the quota of 4: %v, want rate_limited", err)
		}
	})
}

// AuthenticateLater leaves the limits of a cached row pending: nothing is counted until the
// caller counts them, in its own Transact (Cmds, then Decide on their replies) or by Run, and
// then once however often it asks. An uncached row has its limits counted at once.
func TestAuthenticateLaterCountsTheLimitsOnce(t *testing.T) {
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		ctx := context.Background()
		app, secret := newApp(t, db, "Later")
		if err := db.Application.UpdateOneID(app.ID).SetClientRequestsPerMinute(3).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		s := clientauth.New(db, ratelimit.New(k))
		s.Limits = clientauth.Limits{QuotaWindow: time.Hour}
		quota := func() string {
			v, _ := k.Get(ctx, "rl:client-quota:"+app.ID).Result()
			return v
		}
		_, p, err := s.AuthenticateLater(from("192.0.2.50"), app.ID, secret)
		if err != nil || p != nil || quota() != "1" {
			t.Fatalf("uncached: pending %v, err %v, quota %q; want the limits counted at once", p, err, quota())
		}
		_, p, err = s.AuthenticateLater(from("192.0.2.50"), app.ID, secret)
		if err != nil || p == nil || quota() != "1" {
			t.Fatalf("cached: pending %v, err %v, quota %q; want the limits pending", p, err, quota())
		}
		cmds := p.Cmds()
		r, err := k.Transact(ctx, append(slices.Clone(cmds), []string{"SET", "callers-own", "x"})...)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Decide(r[:len(cmds)]); err != nil || quota() != "2" {
			t.Fatalf("Decide within the quota: %v, quota %q", err, quota())
		}
		if p.Cmds() != nil || p.Run(ctx) != nil || p.Decide(r) != nil || quota() != "2" {
			t.Fatalf("limits counted again after Decide: quota %q", quota())
		}
		_, p, _ = s.AuthenticateLater(from("192.0.2.50"), app.ID, secret)
		if err := p.Run(ctx); err != nil || quota() != "3" {
			t.Fatalf("Run within the quota: %v, quota %q", err, quota())
		}
		_, p, _ = s.AuthenticateLater(from("192.0.2.50"), app.ID, secret)
		if err := p.Run(ctx); apperr.As(err).Code != apperr.RateLimited || apperr.As(err).RetryAfter < 1 {
			t.Fatalf("Run over the quota: %v, want rate_limited with RetryAfter", err)
		}
		if err := p.Run(ctx); err != nil || quota() != "4" {
			t.Fatalf("Run again: %v, quota %q; want nothing counted", err, quota())
		}
	})
}

// The finding of the shared-address review: 30 wrong secrets (or unknown client_ids) from one
// address spent that address's failure budget, and the next request from it was refused
// before its credentials were looked at, so another application's backend behind the same
// NAT, serverless or CI egress address got 429 with its right secret. Failures from an address
// now lock out only the client_id they name at that address: every other application's right
// secret passes from there, cached row or not, while the attacker stays refused, and past its
// budget learns nothing (even the right secret of the client it attacks answers 429 there).
func TestFailuresFromASharedAddressDoNotLockOutAnotherClient(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		for i, tt := range []struct {
			name             string
			cached           bool
			attacker, victim string // one address for the limits
		}{
			{"IPv4, rows read from the database", false, "198.51.100.20", "198.51.100.20"},
			{"IPv4, rows cached", true, "198.51.100.21", "198.51.100.21"},
			{"IPv6 /64, rows read from the database", false, "2001:db8:20::1", "2001:db8:20::2"},
			{"IPv6 /64, rows cached", true, "2001:db8:21::1", "2001:db8:21::2"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				attacked, attackedSecret := newApp(t, db, "Attacked "+strconv.Itoa(i))
				other, otherSecret := newApp(t, db, "Neighbour "+strconv.Itoa(i))
				s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k)} // the default limits
				if tt.cached {
					s = clientauth.New(db, ratelimit.New(k))
					s.CacheTTL = time.Hour
					// Both rows cached by a success from elsewhere: the neighbour's request below
					// takes the hot path (limits pending, counted in one round trip).
					for _, c := range []struct{ id, secret string }{{attacked.ID, attackedSecret}, {other.ID, otherSecret}} {
						if _, err := s.Authenticate(from("203.0.113.1"), c.id, c.secret); err != nil {
							t.Fatal(err)
						}
					}
				}
				// Well past every default budget of the address: wrong secrets for one client,
				// then unknown client_ids.
				var limited int
				for j := range 50 {
					id := attacked.ID
					if j >= 40 {
						id = "app_unknown" + strconv.Itoa(j)
					}
					_, err := s.Authenticate(from(tt.attacker), id, "lss_guess")
					switch e := apperr.As(err); {
					case e.Code == apperr.RateLimited && e.RetryAfter >= 1:
						limited++
					case e.Code == apperr.Unauthorized:
					default:
						t.Fatalf("attempt %d: %v", j+1, err)
					}
				}
				if limited == 0 {
					t.Fatal("50 failures from one address were never rate limited")
				}

				// Another application's right secret from the same address passes.
				for j := range 3 {
					got, p, err := s.AuthenticateLater(from(tt.victim), other.ID, otherSecret)
					if err == nil {
						err = p.Run(context.Background())
					}
					if err != nil || got.ID != other.ID {
						t.Fatalf("neighbour's right secret from the attacked address, call %d: %v", j+1, err)
					}
					if tt.cached && p == nil {
						t.Fatal("cached neighbour: limits not pending, hot path not taken")
					}
				}
				// The attacker stays refused, with Retry-After, for wrong secrets and unknown ids.
				for _, a := range []struct{ id, secret string }{{attacked.ID, "lss_guess"}, {"app_unknown-again", "lss_guess"}} {
					_, err := s.Authenticate(from(tt.attacker), a.id, a.secret)
					if e := apperr.As(err); e.Code != apperr.RateLimited || e.RetryAfter < 1 {
						t.Fatalf("%s past the budget: %v, want rate_limited with Retry-After", a.id, err)
					}
				}
				// Past its budget, a guess at the attacked client from there is refused whether
				// it is right or wrong: the answer tells the guesser nothing.
				if _, err := s.Authenticate(from(tt.attacker), attacked.ID, attackedSecret); !apperr.Is(err, apperr.RateLimited) {
					t.Fatalf("right secret of the attacked client from the attacker's address: %v, want rate_limited", err)
				}
				// The attacked client's backend, from its own address, passes.
				if _, err := s.Authenticate(from("203.0.113.2"), attacked.ID, attackedSecret); err != nil {
					t.Fatalf("attacked client from another address: %v", err)
				}
			})
		}
	})
}

// The failure budget of a client_id at an address is counted under "client_id:address". A
// client_id is never allowed to bring a ':' of its own, which could make the pair read as the
// client at another address: failures sent from one address naming "<id>:2001:db8:22:1:0:0"
// would otherwise spend the budget of <id> at 2001:db8:22:1::/64 (the rest parses as
// 2001:db8:22:1::c633:6416), locking out the client's backend there.
func TestAClientIDCannotNameAnotherAddress(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		app, secret := newApp(t, db, "A")
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{
			FailuresPerClientAddress: ratelimit.Rule{N: 3}}}
		for range 10 {
			_, err := s.Authenticate(from("198.51.100.22"), app.ID+":2001:db8:22:1:0:0", "lss_guess")
			if c := apperr.As(err).Code; c != apperr.Unauthorized && c != apperr.RateLimited {
				t.Fatal(err)
			}
		}
		if _, err := s.Authenticate(from("2001:db8:22:1::1"), app.ID, secret); err != nil {
			t.Fatalf("the client's backend at the address named: %v", err)
		}
	})
}

// Application is the application as it is now, from the cache when a recent authentication or
// lookup put its row there (no read of the database per call: a change by another process is
// seen only after CacheTTL), and at once after any change through the same database client.
// SecretStamp names the secret: the same for the same secret, another after a rotation.
func TestApplicationIsTheCurrentRowFromTheCache(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		ctx := context.Background()
		app, secret := newApp(t, db, "Looked up")
		s := clientauth.New(db, ratelimit.New(k))
		s.CacheTTL = time.Hour
		stamp := func() string {
			t.Helper()
			got, err := s.Application(ctx, app.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				return ""
			}
			return clientauth.SecretStamp(got)
		}
		for _, id := range []string{"app_nosuchapplication", "not-an-id", ""} {
			if got, err := s.Application(ctx, id); got != nil || err != nil {
				t.Fatalf("Application(%q) = %v, %v; want nil, nil", id, got, err)
			}
		}
		first := stamp()
		if first != clientauth.SecretStamp(app) || len(first) != 16 {
			t.Fatalf("stamp %q of the created row's %q", first, clientauth.SecretStamp(app))
		}
		if strings.Contains(first, secret) || strings.Contains(app.SecretHash, first) {
			t.Fatalf("the stamp %q gives away the secret or its hash", first)
		}

		// Changed by another process (no hook): the cached row answers, nothing is read.
		other := ent.NewClient(ent.Driver(entsql.OpenDB(db.Dialect, db.SQL)))
		if err := other.Application.UpdateOneID(app.ID).SetSecretHash(ids.Hash(ids.Secret("lss_"))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := stamp(); got != first {
			t.Fatalf("within CacheTTL, another process's change read: stamp %q, want the cached %q", got, first)
		}

		// Rotated through this client: the new secret's stamp at once.
		if err := db.Application.UpdateOneID(app.ID).SetSecretHash(ids.Hash(ids.Secret("lss_"))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rotated := stamp()
		if rotated == first || rotated == "" {
			t.Fatalf("after a rotation the stamp is %q, before %q", rotated, first)
		}
		if got := stamp(); got != rotated {
			t.Fatalf("the same secret's stamp changed: %q, then %q", rotated, got)
		}

		// Deleted: none.
		if err := db.Application.DeleteOneID(app.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := stamp(); got != "" {
			t.Fatalf("a deleted application is still found (stamp %q)", got)
		}
	})
}
