package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent/licensevariant"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestVariantCreationsAndDeletionsCountAsDevelopersChanges: creating and deleting a variant
// in a loop recorded an activity event each time without end; both count against the
// developer's changes (team.TakeWrite), and past the budget neither writes anything. Another
// developer keeps their own budget.
func TestVariantCreationsAndDeletionsCountAsDevelopersChanges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		w.svc.Writes = ratelimit.Rule{N: 3}
		v, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: "Pro"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.svc.DeleteVariant(as(w.dev), w.app.ID, v.ID, false); err != nil {
			t.Fatal(err)
		}
		kept, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: "Pro"})
		if err != nil {
			t.Fatal(err)
		}
		events := db.ActivityEvent.Query().CountX(ctx)
		_, err = w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: "Team"})
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 1 {
			t.Errorf("a creation past the budget: %v, want rate_limited", err)
		}
		err = w.svc.DeleteVariant(as(w.dev), w.app.ID, kept.ID, false)
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited {
			t.Errorf("a deletion past the budget: %v, want rate_limited", err)
		}
		if names := db.LicenseVariant.Query().Where(licensevariant.ApplicationID(w.app.ID)).Select(licensevariant.FieldName).StringsX(ctx); len(names) != 1 || names[0] != "Pro" {
			t.Errorf("variants after the refusals: %v, want [Pro]", names)
		}
		if n := db.ActivityEvent.Query().CountX(ctx); n != events {
			t.Errorf("the refusals recorded %d activity events", n-events)
		}
		if _, err := w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "Pro"}); err != nil {
			t.Errorf("another developer: %v", err)
		}
	})
}
