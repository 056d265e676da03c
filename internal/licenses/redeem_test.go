package licenses_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestRedeemLimits: the redemption limits are the domain's, so every transport meets them.
// Attempts count per address and per holder (session person or token connection) before the
// code is looked at, failed and successful alike; past either limit Redeem answers
// rate_limited with RetryAfter and redeems nothing.
func TestRedeemLimits(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			w := newWorld(t, db)
			w.svc.Limiter = ratelimit.New(k)
			// The two backends share k: counters of their own.
			run := ids.RandomLower(8)
			w.svc.Limits.PerHolder = ratelimit.Rule{Name: run + ":holder", N: 3, Window: time.Minute}
			w.svc.Limits.PerAddress = ratelimit.Rule{Name: run + ":ip", N: 5, Window: time.Minute}
			codes := w.codes(t, w.variant(t, "Monthly", "MONTH"), 3)
			ann, bob, cy := w.person(t, "ann"), w.person(t, "bob"), w.person(t, "cy")
			w.connect(t, ann, w.app)
			bobConn := w.connect(t, bob, w.app)
			w.connect(t, cy, w.app)
			from := func(ctx context.Context, ip string) context.Context { return auth.WithClientIP(ctx, ip) }

			for i := range 3 {
				_, err := w.svc.Redeem(from(as(ann), "192.0.2.1"), w.app.ID, "ZZZZ-ZZZZ-ZZZZ-ZZZ"+string(rune('A'+i)))
				wantErr(t, err, "code_not_found")
			}
			_, err := w.svc.Redeem(from(as(ann), "192.0.2.9"), w.app.ID, codes[0])
			wantErr(t, err, "rate_limited")
			if e := apperr.As(err); e.RetryAfter < 1 || e.RetryAfter > 60 {
				t.Fatalf("RetryAfter = %d, want 1..60", e.RetryAfter)
			}
			if _, err := w.svc.Redeem(from(asToken(bobConn), "192.0.2.1"), "", codes[0]); err != nil {
				t.Fatalf("another holder from the same address: %v", err)
			}
			// 192.0.2.1 has now made 4 attempts; its 5th passes, its 6th does not, whoever makes it.
			if _, err := w.svc.Redeem(from(as(cy), "192.0.2.1"), w.app.ID, codes[1]); err != nil {
				t.Fatalf("5th attempt of the address: %v", err)
			}
			_, err = w.svc.Redeem(from(as(cy), "192.0.2.1"), w.app.ID, codes[2])
			wantErr(t, err, "rate_limited")
			page, err := w.svc.ListCodes(as(w.dev), w.app.ID, licenses.CodeQuery{State: licenses.Unused})
			if err != nil || page.TotalCount != 1 || page.Edges[0].Node.Code != codes[2] {
				t.Fatalf("unused after the limited attempts = %+v, %v; want only %s", page, err, codes[2])
			}
		})
	})
}

// TestABlockedConnectionsTokenRedeemsNothing: once a connection is blocked, the access token
// the app holds for it (alive in the token store until it expires) neither redeems a code
// nor lists the licenses, as GET /api/user refuses it; the person's own session still lists
// theirs but redeems nothing either (connection_blocked). Before, the licenses routes loaded
// the connection and took a blocked one, and the person's session redeemed codes through it.
func TestABlockedConnectionsTokenRedeemsNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		if err := db.AppConnection.UpdateOne(conn).SetBlocked(true).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, err := w.svc.Redeem(asToken(conn), "", code)
		wantErr(t, err, "invalid_token")
		_, _, err = w.svc.Subscriptions(asToken(conn), "")
		wantErr(t, err, "invalid_token")
		_, err = w.svc.Redeem(as(ann), w.app.ID, code)
		wantErr(t, err, "connection_blocked")
		page, err := w.svc.ListCodes(as(w.dev), w.app.ID, licenses.CodeQuery{State: licenses.Unused})
		if err != nil || page.TotalCount != 1 {
			t.Fatalf("unused codes after the blocked connection's attempts = %+v, %v; want the code unused", page, err)
		}
		if _, _, err := w.svc.Subscriptions(as(ann), w.app.ID); err != nil {
			t.Fatalf("the person's own session: %v", err)
		}
	})
}
