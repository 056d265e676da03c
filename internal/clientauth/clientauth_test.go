package clientauth_test

import (
	"context"
	"testing"
	"time"

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
	if ent.IsNotFound(err) {
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
// the real backend at 429. Failures now lock out the addresses that fail; the right secret
// passes from anywhere else, however many failures its client_id has seen.
func TestLockedOutAttackerDoesNotLockOutTheClient(t *testing.T) {
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		app, secret := newApp(t, db, "A")
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{
			FailuresPerAddress: ratelimit.Rule{N: 5}, FailuresPerClient: ratelimit.Rule{N: 20}}}
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
		// A spent address is refused before its credentials are checked, even the right ones.
		if _, err := s.Authenticate(from("198.51.100.1"), app.ID, secret); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("locked-out address with the right secret: %v, want rate_limited", err)
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
