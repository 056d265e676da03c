package licenses_test

import (
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAVariantGivenDurationAndDefaultDurationIsRefused: duration and its REST twin
// defaultDuration given together are Invalid, naming both, on creation and on change, and
// nothing is stored; either one alone still sets the duration. Before, duration silently won
// (YEAR beside a defaultDuration of MONTH made a yearly variant).
func TestAVariantGivenDurationAndDefaultDurationIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		dev := as(w.dev)
		month, year := "MONTH", "YEAR"
		const want = "give duration or defaultDuration, not both"
		_, err := w.svc.CreateVariant(dev, w.app.ID, licenses.VariantInput{Name: "Both", Duration: year, DefaultDuration: &month})
		if e := apperr.As(err); e.Code != apperr.Invalid || e.Message != want {
			t.Errorf("create with both = %v, want Invalid %q", err, want)
		}
		v, err := w.svc.CreateVariant(dev, w.app.ID, licenses.VariantInput{Name: "Monthly", DefaultDuration: &month})
		if err != nil || v.Duration != "MONTH" {
			t.Fatalf("create with defaultDuration = %v, %v", v, err)
		}
		_, err = w.svc.UpdateVariant(dev, w.app.ID, v.ID, licenses.VariantPatch{Duration: &year, DefaultDuration: &month})
		if e := apperr.As(err); e.Code != apperr.Invalid || e.Message != want {
			t.Errorf("change with both = %v, want Invalid %q", err, want)
		}
		v, err = w.svc.UpdateVariant(dev, w.app.ID, v.ID, licenses.VariantPatch{DefaultDuration: &year})
		if err != nil || v.Duration != "YEAR" {
			t.Fatalf("change with defaultDuration = %v, %v", v, err)
		}
		list, err := w.svc.ListVariants(dev, w.app.ID)
		if err != nil || len(list) != 1 {
			t.Errorf("variants = %d, %v; want the one made with defaultDuration alone", len(list), err)
		}
	})
}
