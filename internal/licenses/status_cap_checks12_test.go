package licenses_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"loginsign/ent/licensecode"
	"loginsign/internal/apperr"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// An application's backend whose person already holds licenses.MaxPerConnection licenses (a
// redemption answers too_many_licenses) syncs a new plan name each time: every grant of a
// variant the connection holds no status license of stored a new license past the bound, one
// per variant (up to MaxVariants more on the person's unpaged subscriptions list). Past the
// bound a grant that would store a license answers 409 too_many_licenses and stores nothing;
// a grant of a plan the connection already holds (reused, or made active again) and a revoke
// still answer.
func TestAStatusSyncDoesNotTakeAConnectionPastMaxPerConnection(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		grant := func(in licenses.StatusInput) (*licenses.StatusResult, error) {
			return w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
		}
		// One status license (PRO), then redeemed codes up to the bound.
		must[*licenses.StatusResult](t)(grant(licenses.StatusInput{Status: "PRO"}))
		v := w.variant(t, "Month", "MONTH")
		for _, c := range w.codes(t, v, licenses.MaxPerConnection-1) {
			key, _ := licenses.CodeKey(c)
			db.LicenseCode.Update().Where(licensecode.CodeKey(key)).
				SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(w.clock.Now()).ExecX(ctx)
		}
		held := func() int {
			return db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).CountX(ctx)
		}
		if n := held(); n != licenses.MaxPerConnection {
			t.Fatalf("setup: the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}

		for i := range 3 {
			_, err := grant(licenses.StatusInput{Status: fmt.Sprintf("PLAN%d", i)})
			wantErr(t, err, "too_many_licenses")
		}
		if n := held(); n != licenses.MaxPerConnection {
			t.Errorf("after grants of new plans the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}

		// The plan it holds: reused, revoked, made active again; none of it adds a license.
		if r, err := grant(licenses.StatusInput{Status: "PRO", Duration: "MONTH"}); err != nil || !r.Reused {
			t.Errorf("a grant of the held plan at the bound = %+v, %v; want it reused", r, err)
		}
		if r, err := grant(licenses.StatusInput{Revoke: true}); err != nil || r.Action != licenses.ActionRevoked {
			t.Errorf("a revoke at the bound = %+v, %v; want revoked", r, err)
		}
		if r, err := grant(licenses.StatusInput{Status: "PRO"}); err != nil || !r.Reused {
			t.Errorf("a grant of the ended plan at the bound = %+v, %v; want it made active again", r, err)
		}
		if n := held(); n != licenses.MaxPerConnection {
			t.Errorf("the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}
	})
}

// Status syncs of new plans and redemptions racing into a connection one short of
// licenses.MaxPerConnection: exactly one of them stores a license; the others answer
// too_many_licenses.
func TestStatusSyncsAndRedemptionsRacingIntoAFullConnectionStoreOneLicense(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		v := w.variant(t, "Month", "MONTH")
		const racers = 8
		codes := w.codes(t, v, licenses.MaxPerConnection-1+racers/2)
		for _, c := range codes[:licenses.MaxPerConnection-1] {
			key, _ := licenses.CodeKey(c)
			db.LicenseCode.Update().Where(licensecode.CodeKey(key)).
				SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(w.clock.Now()).ExecX(ctx)
		}
		spare := codes[licenses.MaxPerConnection-1:]
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					_, errs[i] = w.svc.Redeem(asToken(conn), "", spare[i/2])
				} else {
					_, errs[i] = w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: fmt.Sprintf("PLAN%d", i)})
				}
			}()
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
			} else if name := apperr.As(err).Name(); name != "too_many_licenses" {
				t.Errorf("racer %d: %v (%s), want too_many_licenses", i, err, name)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d racers stored a license, want 1", won, racers)
		}
		if n := db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).CountX(ctx); n != licenses.MaxPerConnection {
			t.Errorf("the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}
	})
}
