package licenses_test

import (
	"testing"

	"loginsign/ent"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestVariantTextIsOneVisibleLine: a variant's name and description, and the status and
// variantName of a status sync (which name variants too), follow the rule of application
// names: one line, no control or format character (a U+202E makes "\u202eabc" read "cba"),
// kept in NFC. Anything else is Invalid and changes nothing. Any plan label is still a
// status (spec §4.2).
func TestVariantTextIsOneVisibleLine(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		existing := w.variant(t, "Basic", "MONTH")
		dev, client := as(w.dev), asClient(w.app)

		for _, bad := range []struct{ name, text string }{
			{"a right-to-left override", "\u202eabc"},
			{"a newline", "a\nb"},
			{"a carriage return", "a\rb"},
			{"a tab", "a\tb"},
			{"a NUL", "a\x00b"},
			{"a zero-width space", "a\u200bb"},
			{"a left-to-right isolate", "\u2066abc\u2069"},
			{"a line separator", "a\u2028b"},
			{"a byte order mark", "\ufeffabc"},
			{"invalid UTF-8", "a\xffb"},
		} {
			t.Run(bad.name, func(t *testing.T) {
				_, err := w.svc.CreateVariant(dev, w.app.ID, licenses.VariantInput{Name: bad.text})
				wantErr(t, err, "invalid_request")
				_, err = w.svc.CreateVariant(dev, w.app.ID, licenses.VariantInput{Name: "Fine", Description: bad.text})
				wantErr(t, err, "invalid_request")
				text := bad.text
				_, err = w.svc.UpdateVariant(dev, w.app.ID, existing.ID, licenses.VariantPatch{Name: &text})
				wantErr(t, err, "invalid_request")
				_, err = w.svc.UpdateVariant(dev, w.app.ID, existing.ID, licenses.VariantPatch{Description: &text})
				wantErr(t, err, "invalid_request")
				_, err = w.svc.SyncStatus(client, w.app.ID, ann.GlobalID, licenses.StatusInput{Status: bad.text})
				wantErr(t, err, "invalid_request")
				_, err = w.svc.SyncStatus(client, w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "active", VariantName: bad.text})
				wantErr(t, err, "invalid_request")
				_, err = w.svc.SyncStatus(client, w.app.ID, ann.GlobalID, licenses.StatusInput{Revoke: true, Status: bad.text})
				wantErr(t, err, "invalid_request")
			})
		}
		vs := must[[]*ent.LicenseVariant](t)(w.svc.ListVariants(dev, w.app.ID))
		if len(vs) != 1 || vs[0].Name != "Basic" || vs[0].Description != "" {
			t.Fatalf("after the refusals: variants %v, want only Basic as created", vs)
		}
		if n := db.LicenseCode.Query().CountX(t.Context()); n != 0 {
			t.Fatalf("after the refusals: %d license codes", n)
		}

		// What passes: text of any script, trimmed and composed (NFC), and any plan label.
		v := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(dev, w.app.ID, licenses.VariantInput{
			Name: " Cafe\u0301 Pro ", Description: "für Teams · 团队"}))
		if v.Name != "Café Pro" || v.Description != "für Teams · 团队" {
			t.Fatalf("created %q %q", v.Name, v.Description)
		}
		g := must[*licenses.StatusResult](t)(w.svc.SyncStatus(client, w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "weird"}))
		if g.Action != licenses.ActionGranted || g.Status != "WEIRD" || g.Variant.Name != "WEIRD" {
			t.Fatalf("a plan label of the app's choosing: %+v", g)
		}
	})
}
