package licenses_test

import (
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestVariantNamesAreCountedInCharacters: a variant's name is at most 100 characters and its
// description 2000, as their messages say, however many bytes they take; one more is refused.
// Before, the checks and the schema counted bytes.
func TestVariantNamesAreCountedInCharacters(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		name, desc := strings.Repeat("版", 100), strings.Repeat("説", 2000)
		v, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: name, Description: desc})
		if err != nil || v.Name != name || v.Description != desc {
			t.Fatalf("a variant named with 100 characters (%d bytes) and described with 2000: %v, want it created", len(name), err)
		}
		_, err = w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: name + "版"})
		wantErr(t, err, "invalid_request")
		_, err = w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: "Other", Description: desc + "説"})
		wantErr(t, err, "invalid_request")
	})
}
