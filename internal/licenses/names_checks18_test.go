package licenses_test

import (
	"context"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAVariantsStoredTextSentBackUnchangedIsKept: a variant saved before displaytext.Name
// applied to variant names and descriptions ("Renew at acme.example/renew") keeps working until
// its name or description is changed. A client that sends every field of the variant to change
// only its duration sent the stored text back unchanged and was refused; it is now kept. A
// changed text still follows the rule.
func TestAVariantsStoredTextSentBackUnchangedIsKept(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		old := db.LicenseVariant.Create().SetApplicationID(w.app.ID).SetName("Hotline 555 010 0199").
			SetNameKey("hotline 555 010 0199").SetDescription("Renew at acme.example/renew").SaveX(ctx)
		name, desc, year := old.Name, old.Description, "YEAR"
		v, err := w.svc.UpdateVariant(as(w.dev), w.app.ID, old.ID, licenses.VariantPatch{Name: &name, Description: &desc, Duration: &year})
		if err != nil {
			t.Fatalf("every field sent back as stored, only the duration changed: %v", err)
		}
		if v.Name != name || v.Description != desc || string(v.Duration) != "YEAR" {
			t.Fatalf("after the edit: %q %q %s", v.Name, v.Description, v.Duration)
		}
		changed := "Renew at evil.example/renew"
		if _, err := w.svc.UpdateVariant(as(w.dev), w.app.ID, old.ID, licenses.VariantPatch{Name: &name, Description: &changed}); err == nil {
			t.Fatal("a description changed to hold a link was saved")
		} else {
			wantErr(t, err, "invalid_request")
		}
		renamed := "Hotline 555 010 0198"
		if _, err := w.svc.UpdateVariant(as(w.dev), w.app.ID, old.ID, licenses.VariantPatch{Name: &renamed}); err == nil {
			t.Fatal("a name changed to hold a phone number was saved")
		} else {
			wantErr(t, err, "invalid_request")
		}
	})
}
