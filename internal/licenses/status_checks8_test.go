package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent/application"
	"loginsign/ent/licensecode"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAStatusGrantPastTheOwnersCodeTotalIsRefusedAndStoresNothing: a grant that has to store a
// new status license counts against the total of the application owner's codes (MaxCodes),
// which codes of the owner's other applications share. Past it the grant answers
// invalid_request and stores nothing; a grant that makes the person's ended license of the
// variant active again stores no row, and is still answered.
func TestAStatusGrantPastTheOwnersCodeTotalIsRefusedAndStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.MaxCodes = 3
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		w.connect(t, ann, w.app)
		w.connect(t, bob, w.app)
		if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PRO"}); err != nil {
			t.Fatalf("a first grant within the total: %v", err)
		}
		// Two codes of another application of the same owner fill the total.
		second, _ := w.application(t, w.dev, "Second")
		v, err := w.svc.CreateVariant(as(w.dev), second.ID, licenses.VariantInput{Name: "Gift"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.GenerateCodes(as(w.dev), second.ID, licenses.GenerateInput{VariantID: v.ID, Count: 2}); err != nil {
			t.Fatal(err)
		}

		_, err = w.svc.SyncStatus(asClient(w.app), w.app.ID, bob.GlobalID, licenses.StatusInput{Status: "PRO"})
		wantErr(t, err, "invalid_request")
		if n := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d codes stored for the application after a grant past the total, want 1", n)
		}

		// Ann's license, revoked, is made active again without a new row.
		if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Revoke: true}); err != nil {
			t.Fatal(err)
		}
		r, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PRO"})
		if err != nil || !r.Reused || licenses.EffectiveState(r.License, w.clock.Now()) != licensecode.StateACTIVE {
			t.Errorf("a grant after a revoke at the total = %+v, %v; want the license active again", r, err)
		}
	})
}

// TestConcurrentFirstGrantsStayWithinTheOwnersCodeTotal: first grants to many people at once,
// each storing a license, together store no more than MaxCodes. On PostgreSQL each of them
// locks the owner's row before counting, as generating and uploading codes do.
func TestConcurrentFirstGrantsStayWithinTheOwnersCodeTotal(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.MaxCodes = 5
		people := w.connectMany(t, w.app, 12)
		errs := make(chan error, len(people))
		for _, p := range people {
			go func() {
				u, err := db.User.Get(ctx, p.UserID)
				if err == nil {
					_, err = w.svc.SyncStatus(asClient(w.app), w.app.ID, u.GlobalID, licenses.StatusInput{Status: "PRO"})
				}
				errs <- err
			}()
		}
		granted := 0
		for range people {
			if err := <-errs; err == nil {
				granted++
			} else {
				wantErr(t, err, "invalid_request")
			}
		}
		n := db.LicenseCode.Query().Where(licensecode.HasApplicationWith(application.OwnerID(w.dev.ID))).CountX(ctx)
		if n != 5 || granted != 5 {
			t.Errorf("%d grants answered and %d codes stored, want 5 and 5 (MaxCodes)", granted, n)
		}
	})
}
