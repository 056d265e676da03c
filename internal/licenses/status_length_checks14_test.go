package licenses_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestStatusSyncCountsCharactersNotBytes: a status and a variantName may be 100 characters,
// the rule of variant names. The check counted bytes, so a 60-letter plan name in Cyrillic
// (120 bytes) or 40 emoji (160 bytes) was refused as "longer than 100 characters", while the
// same name given to CreateVariant was accepted. 101 characters are refused, and the message
// says what is counted.
func TestStatusSyncCountsCharactersNotBytes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		for _, in := range []licenses.StatusInput{
			{Status: strings.Repeat("П", 60)},
			{Status: "PRO", VariantName: strings.Repeat("🚀", 40)},
			{Status: strings.Repeat("Я", 100)},
		} {
			res, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
			if err != nil {
				t.Fatalf("SyncStatus(%d-character status, %d-character variantName): %v", len([]rune(in.Status)), len([]rune(in.VariantName)), err)
			}
			want := in.VariantName
			if want == "" {
				want = in.Status
			}
			if res.Variant == nil || res.Variant.Name != want {
				t.Errorf("variant %+v, want the name %q", res.Variant, want)
			}
		}
		for _, in := range []licenses.StatusInput{
			{Status: strings.Repeat("Я", 101)},
			{Status: "PRO", VariantName: strings.Repeat("🚀", 101)},
		} {
			_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
			wantErr(t, err, "invalid_request")
			if msg := apperr.As(err).Message; !strings.Contains(msg, "100 characters (Unicode code points)") {
				t.Errorf("message %q does not say what is counted", msg)
			}
		}
	})
}
