package licenses_test

import (
	"testing"
	"time"

	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPlanSentWithoutADurationRunsForItsVariantsDuration (review helper cost23, checks23):
// the reference makes a status sync's duration optional, "defaults to LIFETIME", and a
// variant's duration its "default duration". A grant without one ran for ever whatever the
// plan's variant said: a backend that sent {"status":"PRO"} for a MONTH plan (its first sync
// named the duration, or the developer made the variant in the portal) got a license without
// an expiry, and the license the sync refreshed, running to next month, ran for ever too,
// while the answer showed the variant's MONTH. A grant without a duration now runs for the
// variant's; a variant the sync creates is still LIFETIME by default, as documented, and a
// duration given still wins.
func TestAPlanSentWithoutADurationRunsForItsVariantsDuration(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		sync := func(in licenses.StatusInput) *licenses.StatusResult {
			t.Helper()
			r, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
			if err != nil {
				t.Fatalf("SyncStatus(%+v): %v", in, err)
			}
			return r
		}
		runsUntil := func(what string, r *licenses.StatusResult, want *time.Time) {
			t.Helper()
			got := r.License.ExpiresAt
			if (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
				t.Errorf("%s: the license expires at %v, want %v (variant %s)", what, got, want, r.Variant.Duration)
			}
		}
		monthOn := func() *time.Time { t := w.clock.Now().UTC().AddDate(0, 1, 0); return &t }
		yearOn := func() *time.Time { t := w.clock.Now().UTC().AddDate(1, 0, 0); return &t }

		runsUntil("a MONTH plan's first grant", sync(licenses.StatusInput{Status: "PRO", Duration: "MONTH"}), monthOn())
		w.clock.Add(48 * time.Hour)
		runsUntil("the same plan resent without a duration", sync(licenses.StatusInput{Status: "PRO"}), monthOn())

		w.variant(t, "Team", "YEAR") // made in the portal
		runsUntil("a YEAR variant's plan without a duration", sync(licenses.StatusInput{Status: "TEAM"}), yearOn())
		runsUntil("a duration given still wins", sync(licenses.StatusInput{Status: "TEAM", Duration: "LIFETIME"}), nil)

		runsUntil("a plan whose variant the sync creates, without a duration (LIFETIME, documented)", sync(licenses.StatusInput{Status: "GOLD"}), nil)
	})
}
