package licenses_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// unusedCount is how many codes of w.app are still UNUSED.
func unusedCount(t *testing.T, w *world) int {
	t.Helper()
	n, err := w.db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID), licensecode.StateEQ(licensecode.StateUNUSED)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMalformedRedemptionsCountAgainstTheLimits: every attempt counts, a malformed one too,
// before the code is even read: otherwise the limit would not bound what a guesser sends.
func TestMalformedRedemptionsCountAgainstTheLimits(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			w := newWorld(t, db)
			w.svc.Limiter = ratelimit.New(k)
			run := ids.RandomLower(8)
			w.svc.Limits.PerHolder = ratelimit.Rule{Name: run + ":holder", N: 2, Window: time.Minute}
			w.svc.Limits.PerAddress = ratelimit.Rule{Name: run + ":ip", N: 100, Window: time.Minute}
			code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
			ann := w.person(t, "ann")
			w.connect(t, ann, w.app)
			ctx := auth.WithClientIP(as(ann), "192.0.2.31")
			for _, bad := range []string{"no!", strings.Repeat("Z", 65)} {
				_, err := w.svc.Redeem(ctx, w.app.ID, bad)
				wantErr(t, err, "invalid_code")
			}
			_, err := w.svc.Redeem(ctx, w.app.ID, code)
			wantErr(t, err, "rate_limited")
			if n := unusedCount(t, w); n != 1 {
				t.Fatalf("unused codes after the limited attempt = %d, want 1", n)
			}
		})
	})
}

// TestTokenRedemptionsCountPerConnection: with a Bearer token the holder is the token's
// connection: its attempts are bounded, and another connection of the same application (the
// app's other customers) keeps its own allowance.
func TestTokenRedemptionsCountPerConnection(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			w := newWorld(t, db)
			w.svc.Limiter = ratelimit.New(k)
			run := ids.RandomLower(8)
			w.svc.Limits.PerHolder = ratelimit.Rule{Name: run + ":holder", N: 2, Window: time.Minute}
			w.svc.Limits.PerAddress = ratelimit.Rule{Name: run + ":ip", N: 100, Window: time.Minute}
			codes := w.codes(t, w.variant(t, "Monthly", "MONTH"), 2)
			annConn := w.connect(t, w.person(t, "ann"), w.app)
			bobConn := w.connect(t, w.person(t, "bob"), w.app)
			ann := auth.WithClientIP(asToken(annConn), "192.0.2.41")
			for range 2 {
				_, err := w.svc.Redeem(ann, "", "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
				wantErr(t, err, "code_not_found")
			}
			_, err := w.svc.Redeem(ann, "", codes[0])
			wantErr(t, err, "rate_limited")
			bob := auth.WithClientIP(asToken(bobConn), "192.0.2.42")
			if _, err := w.svc.Redeem(bob, "", codes[1]); err != nil {
				t.Fatalf("another connection's token after ann's were limited: %v, want the code redeemed", err)
			}
		})
	})
}

// TestRedeemDefaultLimitPerHolder: with no Limits set a person has 20 attempts a minute, from
// however many addresses (a guesser rotates addresses, not accounts).
func TestRedeemDefaultLimitPerHolder(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			w := newWorld(t, db)
			w.svc.Limiter = ratelimit.New(k)
			code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
			ann := w.person(t, "ann")
			w.connect(t, ann, w.app)
			for i := range 20 {
				ctx := auth.WithClientIP(as(ann), "198.51.100."+strconv.Itoa(i+1))
				_, err := w.svc.Redeem(ctx, w.app.ID, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
				wantErr(t, err, "code_not_found")
			}
			_, err := w.svc.Redeem(auth.WithClientIP(as(ann), "198.51.100.250"), w.app.ID, code)
			wantErr(t, err, "rate_limited")
		})
	})
}

// TestARedeemedCodeRunsFromItsRedemption: a code's entitlement starts when it is redeemed,
// not when the developer made it: a MONTH code redeemed 40 days after generation runs a month
// from then, a YEAR code a calendar year.
func TestARedeemedCodeRunsFromItsRedemption(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		month := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		year := w.codes(t, w.variant(t, "Yearly", "YEAR"), 1)[0]
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		w.clock.Add(40 * 24 * time.Hour)
		now := w.clock.Now()
		for _, tt := range []struct {
			code string
			want time.Time
		}{{month, now.AddDate(0, 1, 0)}, {year, now.AddDate(1, 0, 0)}} {
			c, err := w.svc.Redeem(as(ann), w.app.ID, tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if c.ExpiresAt == nil || !c.ExpiresAt.Equal(tt.want) {
				t.Fatalf("%s redeemed at %v expires %v, want %v", tt.code, now, c.ExpiresAt, tt.want)
			}
			stored := must[*ent.LicenseCode](t)(db.LicenseCode.Get(context.Background(), c.ID))
			if stored.ExpiresAt == nil || !stored.ExpiresAt.Equal(tt.want) {
				t.Fatalf("%s stored expiry %v, want %v", tt.code, stored.ExpiresAt, tt.want)
			}
		}
	})
}

// TestATokenWhoseConnectionIsOfAnotherApplicationRedeemsNothing: a token is honoured only for
// the connection of its own application: a grant naming application B and a connection to A
// is invalid_token, and A's code stays unused.
func TestATokenWhoseConnectionIsOfAnotherApplicationRedeemsNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		mixed := auth.WithToken(context.Background(), auth.Token{ApplicationID: w.rivalApp.ID, ConnectionID: conn.ID, UserID: ann.ID})
		_, err := w.svc.Redeem(mixed, "", code)
		wantErr(t, err, "invalid_token")
		if n := unusedCount(t, w); n != 1 {
			t.Fatalf("unused codes after the mismatched token = %d, want 1", n)
		}
	})
}

// TestOverlongAndForeignCharacterCodesAreInvalid: Redeem refuses a code over 64 characters
// (after hyphens and spaces are left out) or with other punctuation as invalid_code before
// any lookup, also when the code without the extra characters exists.
func TestOverlongAndForeignCharacterCodesAreInvalid(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		for _, bad := range []string{
			strings.Repeat("Z", 65),
			strings.Repeat("AB-", 40),
			strings.Repeat("Z", 100_000),
			strings.ReplaceAll(code, "-", "."),
		} {
			_, err := w.svc.Redeem(as(ann), w.app.ID, bad)
			wantErr(t, err, "invalid_code")
		}
		if n := unusedCount(t, w); n != 1 {
			t.Fatalf("unused codes = %d, want 1", n)
		}
		if k, ok := licenses.CodeKey(strings.Repeat("a", 65)); ok {
			t.Fatalf("CodeKey(65 letters) = %q, true; want not ok", k)
		}
		if k, ok := licenses.CodeKey("AB.CD"); ok {
			t.Fatalf("CodeKey(%q) = %q, true; want not ok", "AB.CD", k)
		}
	})
}

// TestARedemptionThatLosesToTheSameHolderAnswersTheLicense: when two redemptions of one code
// by the same connection race, the one whose claim finds the code taken reads it again and,
// finding it held by its own connection, answers the license rather than code_already_used.
// The race is made certain: the second redemption runs and commits between the first one's
// read of the code and its claim.
func TestARedemptionThatLosesToTheSameHolderAnswersTheLicense(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		var armed atomic.Bool
		var inner *ent.LicenseCode
		var innerErr error
		db.LicenseCode.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				v, err := next.Query(ctx, q)
				if armed.CompareAndSwap(true, false) {
					inner, innerErr = w.svc.Redeem(asToken(conn), "", code)
				}
				return v, err
			})
		}))
		armed.Store(true)
		c, err := w.svc.Redeem(as(ann), w.app.ID, code)
		if innerErr != nil || inner == nil {
			t.Fatalf("the redemption that won: %v, %v", inner, innerErr)
		}
		if armed.Load() {
			t.Fatal("the claim never ran")
		}
		if err != nil || c.ID != inner.ID || c.LinkedConnectionID == nil || *c.LinkedConnectionID != conn.ID {
			t.Fatalf("the redemption that lost to the same holder = %+v, %v; want the license %s", c, err, inner.ID)
		}
		if c.ExpiresAt == nil || !c.ExpiresAt.Equal(*inner.ExpiresAt) {
			t.Fatalf("answered expiry %v, want the stored %v", c.ExpiresAt, inner.ExpiresAt)
		}
	})
}

// TestARedemptionThatLosesToAnotherHolderIsAlreadyUsed: the loser of a race with another
// connection gets code_already_used and the code stays the winner's.
func TestARedemptionThatLosesToAnotherHolderIsAlreadyUsed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		w.connect(t, ann, w.app)
		bobConn := w.connect(t, bob, w.app)
		var armed atomic.Bool
		var innerErr error
		db.LicenseCode.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				v, err := next.Query(ctx, q)
				if armed.CompareAndSwap(true, false) {
					_, innerErr = w.svc.Redeem(asToken(bobConn), "", code)
				}
				return v, err
			})
		}))
		armed.Store(true)
		_, err := w.svc.Redeem(as(ann), w.app.ID, code)
		if innerErr != nil {
			t.Fatalf("bob's redemption: %v", innerErr)
		}
		wantErr(t, err, "code_already_used")
		stored := must[*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.Code(code)).Only(context.Background()))
		if stored.LinkedConnectionID == nil || *stored.LinkedConnectionID != bobConn.ID {
			t.Fatalf("holder after the race = %v, want bob's %s", stored.LinkedConnectionID, bobConn.ID)
		}
	})
}
