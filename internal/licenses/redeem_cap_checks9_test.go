package licenses_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/ent/licensecode"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// An application's backend redeems code after code into one person's connection (its access
// token, 20 a minute): every license stays on the person's unpaged subscriptions list and in
// their export. Past licenses.MaxPerConnection a redemption answers 409 too_many_licenses and
// stores nothing, whether the app or the person themself (their session: dashboard, GraphQL)
// redeems, however many redemptions race into the connection at once. Another person's
// connection to the same application is not affected, and a code the connection already
// holds is still answered again.
func TestAConnectionHoldsAtMostMaxPerConnectionLicenses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		v := w.variant(t, "Month", "MONTH")
		const racers = 12
		codes := w.codes(t, v, licenses.MaxPerConnection-1+racers+2)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		// The connection already holds MaxPerConnection-1 licenses, one short of the bound.
		held := codes[:licenses.MaxPerConnection-1]
		for _, c := range held[:licenses.MaxPerConnection-2] {
			key, _ := licenses.CodeKey(c)
			db.LicenseCode.Update().Where(licensecode.CodeKey(key)).
				SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(w.clock.Now()).ExecX(ctx)
		}
		last := held[len(held)-1]
		must[any](t)(w.svc.Redeem(asToken(conn), "", last))

		// racers redemptions of distinct codes at once: exactly one fits. Each reads the clock
		// once, right before its transaction: there they wait for one another, so that all
		// the transactions run together.
		racing := codes[len(held) : len(held)+racers]
		errs := make([]error, racers)
		var arrived sync.WaitGroup
		arrived.Add(racers)
		w.svc.Now = func() time.Time {
			arrived.Done()
			arrived.Wait()
			return w.clock.Now()
		}
		var wg sync.WaitGroup
		for i, c := range racing {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					_, errs[i] = w.svc.Redeem(asToken(conn), "", c)
				} else { // the person's own redemption, through the same function
					_, errs[i] = w.svc.Redeem(as(ann), w.app.ID, c)
				}
			}()
		}
		wg.Wait()
		w.svc.Now = w.clock.Now
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case apperr.As(err).Name() != "too_many_licenses" || apperr.As(err).Code != apperr.Conflict:
				t.Errorf("racer %d: %v (%s), want 409 too_many_licenses", i, err, apperr.As(err).Name())
			}
		}
		if won != 1 {
			t.Errorf("%d of %d concurrent redemptions into a connection one short of %d succeeded, want 1", won, racers, licenses.MaxPerConnection)
		}
		if n := db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).CountX(ctx); n != licenses.MaxPerConnection {
			t.Errorf("the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}
		if n := db.LicenseCode.Query().Where(licensecode.StateEQ(licensecode.StateUNUSED)).CountX(ctx); n != racers-1+2 {
			t.Errorf("%d codes are left UNUSED, want the %d refused and unused ones", n, racers-1+2)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.Type(string(activity.LicenseRedeemed))).CountX(ctx); n != 2 {
			t.Errorf("%d license_redeemed events, want 2 (one per claim)", n)
		}

		// At the bound: refused for the app and for the person, the held code answered again.
		spare := codes[len(codes)-1]
		_, err := w.svc.Redeem(asToken(conn), "", spare)
		wantErr(t, err, "too_many_licenses")
		_, err = w.svc.Redeem(as(ann), w.app.ID, spare)
		wantErr(t, err, "too_many_licenses")
		if got, err := w.svc.Redeem(asToken(conn), "", last); err != nil || *got.LinkedConnectionID != conn.ID {
			t.Errorf("redeeming a held code again at the bound = %v, want it answered again", err)
		}
		// Another person's connection to the same application still redeems.
		bob := w.connect(t, w.person(t, "bob"), w.app)
		must[any](t)(w.svc.Redeem(asToken(bob), "", spare))
	})
}
