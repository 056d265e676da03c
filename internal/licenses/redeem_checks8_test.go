package licenses_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/appconnection"
	"loginsign/ent/licensecode"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/connections"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestARedemptionWhoseConnectionEndsMeanwhileIsRefusedAndSpendsNothing: the connection ends
// (the person removes the application, or its developer deletes the connection) after a
// redemption has looked the connection up and before it claims the code. The redemption must
// answer as for a token whose connection is gone (401 invalid_token), never an internal
// error, and the code must stay UNUSED and unlinked, with no license_redeemed event: a code
// claimed for a connection that no longer exists is spent for nobody, and connections.Delete,
// which ends and unlinks the connection's licenses, has already run.
//
// The clock of the service is read for the first time between the lookup and the claim; the
// test ends the connection there, in a transaction of its own.
func TestARedemptionWhoseConnectionEndsMeanwhileIsRefusedAndSpendsNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "YEAR")
		code := w.codes(t, v, 1)[0]
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		endConnectionAtFirstClockRead(t, w, db, conn.ID)
		_, err := w.svc.Redeem(asToken(conn), "", code)
		if err == nil || apperr.As(err).Code == apperr.Internal {
			t.Errorf("redeeming while the connection ends = %v, want 401 invalid_token", err)
		} else {
			wantErr(t, err, "invalid_token")
		}
		c := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).OnlyX(ctx)
		if c.State != licensecode.StateUNUSED || c.LinkedConnectionID != nil {
			t.Errorf("the code is %s linked to %v, want UNUSED and unlinked", c.State, c.LinkedConnectionID)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.Type(string(activity.LicenseRedeemed))).CountX(ctx); n != 0 {
			t.Errorf("%d license_redeemed events for a connection that had ended", n)
		}
	})
}

// TestAnUploadWhoseVariantIsDeletedMeanwhileIsRefusedAndStoresNothing: a team member deletes
// the variant an upload names after the upload has checked it and before it inserts the codes.
// The upload must answer 404 not_found (the variant is gone), never an internal error, and
// store nothing.
//
// The clock of the service is read for the first time between the check and the insert; the
// test deletes the variant there, in a transaction of its own.
func TestAnUploadWhoseVariantIsDeletedMeanwhileIsRefusedAndStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "YEAR")
		var once sync.Once
		w.svc.Now = func() time.Time {
			once.Do(func() {
				if err := db.LicenseVariant.DeleteOneID(v.ID).Exec(ctx); err != nil {
					t.Errorf("deleting the variant: %v", err)
				}
			})
			return w.clock.Now()
		}
		_, err := w.svc.UploadCodes(as(w.dev), w.app.ID, v.ID, []licenses.UploadRow{{Code: "LATE-0001"}, {Code: "LATE-0002"}})
		if err == nil || apperr.As(err).Code == apperr.Internal {
			t.Errorf("uploading into a variant deleted meanwhile = %v, want 404 not_found", err)
		} else {
			wantErr(t, err, "not_found")
		}
		if n := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d codes stored", n)
		}
	})
}

// TestStatusSyncsCountAgainstTheOwnersCodeTotal: every grant that follows a revoke stores a
// new status license (a license_codes row), so an application's backend alternating grant and
// revoke for one person adds a row per pair without end: to the owner's total, which
// MaxCodes bounds for generated and uploaded codes (checkCodeTotal), to the person's
// subscriptions list, which is not paged, and to their data export. With MaxCodes 5, eight
// grant/revoke pairs must leave at most 5 codes stored (a grant past the total refused).
func TestStatusSyncsCountAgainstTheOwnersCodeTotal(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.MaxCodes = 5
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		for range 8 {
			w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PRO"})
			w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Revoke: true})
			w.clock.Add(time.Second)
		}
		if n := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).CountX(ctx); n > 5 {
			t.Errorf("%d codes stored for the application, want at most MaxCodes (5)", n)
		}
	})
}

// endConnectionAtFirstClockRead makes the service's first clock read, which a redemption
// makes between its lookup of the connection and its claim, end the connection id (removed by
// the person), in a transaction of its own.
func endConnectionAtFirstClockRead(t *testing.T, w *world, db *store.DB, id string) {
	t.Helper()
	ctx := context.Background()
	var once sync.Once
	w.svc.Now = func() time.Time {
		once.Do(func() {
			c := db.AppConnection.Query().Where(appconnection.ID(id)).WithApplication().WithUser().OnlyX(ctx)
			if err := db.Tx(ctx, func(tx *ent.Tx) error {
				return connections.Delete(ctx, tx, c, connections.RemovedByPerson, w.clock.Now())
			}); err != nil {
				t.Errorf("ending the connection: %v", err)
			}
		})
		return w.clock.Now()
	}
}
