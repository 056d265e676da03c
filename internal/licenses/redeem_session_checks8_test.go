package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent/licensecode"
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
		endConnectionAtFirstClockRead(t, w, db, conn.ID)
		_, err := w.svc.Redeem(as(ann), w.app.ID, code)
		wantErr(t, err, "not_found")
		c := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).OnlyX(ctx)
		if c.State != licensecode.StateUNUSED || c.LinkedConnectionID != nil {
			t.Errorf("the code is %s linked to %v, want UNUSED and unlinked", c.State, c.LinkedConnectionID)
		}
	})
}
