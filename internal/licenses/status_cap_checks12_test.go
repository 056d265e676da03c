package licenses_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/ent/licensecode"
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
		sync := func(in licenses.StatusInput) (*licenses.StatusResult, error) {
			return w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
		}
		// One status license (PRO), then redeemed codes up to the bound.
		must[*licenses.StatusResult](t)(sync(licenses.StatusInput{Status: "PRO"}))
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
			_, err := sync(licenses.StatusInput{Status: fmt.Sprintf("PLAN%d", i)})
			wantErr(t, err, "too_many_licenses")
		}
		if n := held(); n != licenses.MaxPerConnection {
			t.Errorf("after grants of new plans the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}

		// The plan it holds: reused, revoked, made active again; none of it adds a license.
		if r, err := sync(licenses.StatusInput{Status: "PRO", Duration: "MONTH"}); err != nil || !r.Reused {
			t.Errorf("a grant of the held plan at the bound = %+v, %v; want it reused", r, err)
		}
		if r, err := sync(licenses.StatusInput{Revoke: true}); err != nil || r.Action != licenses.ActionRevoked {
			t.Errorf("a revoke at the bound = %+v, %v; want revoked", r, err)
		}
		if r, err := sync(licenses.StatusInput{Status: "PRO"}); err != nil || !r.Reused {
			t.Errorf("a grant of the ended plan at the bound = %+v, %v; want it made active again", r, err)
		}
		if n := held(); n != licenses.MaxPerConnection {
			t.Errorf("the connection holds %d licenses, want %d", n, licenses.MaxPerConnection)
		}
	})
}
