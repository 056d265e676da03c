package licenses_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAStaleSignInCannotMintOrHarvestLicenseCodes21: license codes are what a customer pays
// for and redeems. From a session whose sign-in is older than auth.RecentSignIn (a session
// cookie taken from the developer's browser), generating or uploading codes, listing codes
// that may be unused (no state, or UNUSED) and deleting a variant answer
// reauthentication_required and change nothing; codes someone holds (ACTIVE, EXPIRED) still
// list, and the role is checked first (another developer's application stays not_found).
// Before, the old session minted 10,000 codes a request, uploaded its own, read every unused
// code a page of 1,000 at a time, and deleted the variants with their unsold and sold codes.
func TestAStaleSignInCannotMintOrHarvestLicenseCodes21(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		v := w.variant(t, "Gold", "")
		codes := w.codes(t, v, 3)
		holder := w.connect(t, w.person(t, "holder"), w.app)
		if _, err := w.svc.Redeem(asToken(holder), "", codes[0]); err != nil {
			t.Fatal(err)
		}
		w.clock.Add(auth.RecentSignIn + time.Minute)
		stale := as(w.dev) // signed in at worldStart, 16 minutes ago

		countCodes := func() int { return must[int](t)(db.LicenseCode.Query().Count(ctx)) }
		before := countCodes()

		_, err := w.svc.GenerateCodes(stale, w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 100})
		wantErr(t, err, "reauthentication_required")
		_, err = w.svc.UploadCodes(stale, w.app.ID, v.ID, []licenses.UploadRow{{Line: 1, Code: "THIEF-OWN-CODE-1"}})
		wantErr(t, err, "reauthentication_required")
		for _, state := range []string{"", "UNUSED", " unused "} {
			_, err = w.svc.ListCodes(stale, w.app.ID, licenses.CodeQuery{State: state})
			wantErr(t, err, "reauthentication_required")
		}
		// A search is no way round: it lists unused codes too.
		_, err = w.svc.ListCodes(stale, w.app.ID, licenses.CodeQuery{Q: codes[1][:4]})
		wantErr(t, err, "reauthentication_required")
		wantErr(t, w.svc.DeleteVariant(stale, w.app.ID, v.ID, true), "reauthentication_required")
		wantErr(t, w.svc.DeleteVariant(stale, w.app.ID, v.ID, false), "reauthentication_required")
		if e := apperr.As(err); e.Code != apperr.Unauthorized {
			t.Fatalf("code = %v, want Unauthorized (401)", e.Code)
		}

		// The role comes first: off the team, the application is not found, stale or not.
		_, err = w.svc.GenerateCodes(as(w.rival), w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 1})
		wantErr(t, err, "not_found")
		_, err = w.svc.ListCodes(as(w.rival), w.app.ID, licenses.CodeQuery{})
		wantErr(t, err, "not_found")

		if n := countCodes(); n != before {
			t.Fatalf("%d codes after the refusals, want %d", n, before)
		}
		if n := must[int](t)(db.LicenseVariant.Query().Where(licensevariant.ID(v.ID)).Count(ctx)); n != 1 {
			t.Fatal("the stale session deleted the variant")
		}
		if n := must[int](t)(db.LicenseCode.Query().Where(licensecode.Code("THIEF-OWN-CODE-1")).Count(ctx)); n != 0 {
			t.Fatal("the stale session uploaded a code")
		}

		// Codes someone holds are what support looks up: they still list, and show no unused code.
		for _, state := range []string{"ACTIVE", "expired"} {
			page, err := w.svc.ListCodes(stale, w.app.ID, licenses.CodeQuery{State: state, Q: holder.AliasEmail})
			if err != nil {
				t.Fatalf("state %s: %v", state, err)
			}
			for _, e := range page.Edges {
				if e.Node.State == licensecode.StateUNUSED {
					t.Fatalf("state %s listed unused code %s", state, e.Node.Code)
				}
			}
			if state == "ACTIVE" && (len(page.Edges) != 1 || page.Edges[0].Node.Code != codes[0]) {
				t.Fatalf("ACTIVE codes = %d, want the held one", len(page.Edges))
			}
		}
	})
}

// TestAFreshSignInMintsListsAndDeletesLicenseCodes21: the same calls from a session of a
// sign-in within auth.RecentSignIn work as before.
func TestAFreshSignInMintsListsAndDeletesLicenseCodes21(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Gold", "")
		w.clock.Add(time.Hour)
		fresh := w.signedIn(w.dev)
		w.clock.Add(auth.RecentSignIn - time.Minute)

		g, err := w.svc.GenerateCodes(fresh, w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 5})
		if err != nil || len(g.Codes) != 5 {
			t.Fatalf("generate = %v, %v", g, err)
		}
		up, err := w.svc.UploadCodes(fresh, w.app.ID, v.ID, []licenses.UploadRow{{Line: 1, Code: "OWN-CODE-0001"}})
		if err != nil || up.Created != 1 {
			t.Fatalf("upload = %+v, %v", up, err)
		}
		page, err := w.svc.ListCodes(fresh, w.app.ID, licenses.CodeQuery{State: "UNUSED"})
		if err != nil || len(page.Edges) != 6 {
			t.Fatalf("list = %v, %v", page, err)
		}
		if err := w.svc.DeleteVariant(fresh, w.app.ID, v.ID, false); err != nil {
			t.Fatal(err)
		}
		if n := must[int](t)(db.LicenseCode.Query().Count(context.Background())); n != 0 {
			t.Fatalf("%d codes left after the variant's deletion", n)
		}
	})
}
