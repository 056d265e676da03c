package licenses_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/licensecode"
	"loginsign/internal/connections"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestARedemptionThroughTheSessionWhoseConnectionEndsMeanwhileAnswersNotConnected: as
// TestARedemptionWhoseConnectionEndsMeanwhileIsRefusedAndSpendsNothing, through the person's
// own session: the connection ends after the redemption looked it up and before it claims the
// code. The answer is the one the person gets a moment later (404 not_found, not connected),
// never an internal error, and the code stays UNUSED and unlinked.
func TestARedemptionThroughTheSessionWhoseConnectionEndsMeanwhileAnswersNotConnected(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "YEAR")
		code := w.codes(t, v, 1)[0]
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		var once sync.Once
		w.svc.Now = func() time.Time {
			once.Do(func() {
				c := db.AppConnection.Query().Where(appconnection.ID(conn.ID)).WithApplication().WithUser().OnlyX(ctx)
				if err := db.Tx(ctx, func(tx *ent.Tx) error {
					return connections.Delete(ctx, tx, c, connections.RemovedByPerson, w.clock.Now())
				}); err != nil {
					t.Errorf("ending the connection: %v", err)
				}
			})
			return w.clock.Now()
		}
		_, err := w.svc.Redeem(as(ann), w.app.ID, code)
		wantErr(t, err, "not_found")
		c := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).OnlyX(ctx)
		if c.State != licensecode.StateUNUSED || c.LinkedConnectionID != nil {
			t.Errorf("the code is %s linked to %v, want UNUSED and unlinked", c.State, c.LinkedConnectionID)
		}
	})
}
