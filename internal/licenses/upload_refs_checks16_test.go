package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent/licensecode"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAVariantNamedLikeAnotherVariantsIDDoesNotTakeItsUploads: an upload names variants by id
// (its variantId, a row's variant column) or, in the column, by name. Ids and name keys were
// kept in one map, a later variant's name key overwriting an earlier variant's id, so a
// variant named exactly like another's id (anyone who may manage the application's licenses
// can create one, and so can the application's backend through a status sync's variantName)
// took that variant's uploads: the upload's variantId answered 404 although the variant
// exists, and a row naming the id was stored in the impostor (here LIFETIME instead of
// MONTH), so a customer redeeming the code got another entitlement than the one sold. An id
// now always names the variant that has it.
func TestAVariantNamedLikeAnotherVariantsIDDoesNotTakeItsUploads(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		monthly := w.variant(t, "Monthly", "MONTH")
		impostor := w.variant(t, monthly.ID, "LIFETIME")
		got, err := w.svc.UploadCodes(as(w.dev), w.app.ID, monthly.ID, []licenses.UploadRow{
			{Line: 1, Code: "MONTH-0001"},
			{Line: 2, Code: "MONTH-0002", Variant: monthly.ID},
			{Line: 3, Code: "MONTH-0003", Variant: " " + monthly.ID + " "},
		})
		if err != nil {
			t.Fatalf("upload into the variant %s, which exists: %v", monthly.ID, err)
		}
		if got.Created != 3 || len(got.Invalid) != 0 || len(got.Duplicates) != 0 {
			t.Fatalf("upload = %+v, want 3 created", got)
		}
		// Without a default variant, a row naming the id goes to the variant with that id.
		got, err = w.svc.UploadCodes(as(w.dev), w.app.ID, "", []licenses.UploadRow{{Line: 1, Code: "MONTH-0004", Variant: monthly.ID}})
		if err != nil || got.Created != 1 {
			t.Fatalf("upload of a row naming %s = %+v, %v; want 1 created", monthly.ID, got, err)
		}
		for _, code := range []string{"MONTH-0001", "MONTH-0002", "MONTH-0003", "MONTH-0004"} {
			c, err := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID), licensecode.Code(code)).Only(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.VariantID != monthly.ID {
				t.Errorf("%s is stored in variant %s (the one named %q), want %s", code, c.VariantID, impostor.Name, monthly.ID)
			}
		}
	})
}
