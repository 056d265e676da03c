package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent/licensevariant"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestLicenseNamesFollowTheRuleOfApplicationNames: a person sees a license's variant name and
// description on their dashboard under LoginSign's brand, as they see an application's name.
// Before, only application names were refused when they spelled LoginSign, mixed lookalike
// scripts, or held a link or a phone number: a developer named a variant "LoginSign Security
// Hold: call +1 555 010 0199", described one with "renew at https://evil.example/renew", or
// had its backend create one by status sync, and people read it as LoginSign's own. Such a
// name or description is now refused at creation, at an edit that changes it, and when a
// status sync would create a variant of that name (nothing stored); a variant stored under
// the old rule keeps working (an edit of something else, a sync of its name) until its name is
// changed.
func TestLicenseNamesFollowTheRuleOfApplicationNames(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		bad := []string{"LoginSign Premium", "Security hold: call +1 555 010 0199", "Gold: renew at https://evil.example/renew",
			"Gold support@evil.example", "G\u043e\u043egle Pro"}
		for _, name := range bad {
			if _, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: name}); err == nil {
				t.Errorf("a variant named %q was created", name)
			} else {
				wantErr(t, err, "invalid_request")
			}
			if _, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: "Gold " + string(rune('A'+len(name)%26)), Description: name}); err == nil {
				t.Errorf("a variant described as %q was created", name)
			} else {
				wantErr(t, err, "invalid_request")
			}
		}
		gold := w.variant(t, "Gold", "")
		for _, name := range bad {
			name := name
			if _, err := w.svc.UpdateVariant(as(w.dev), w.app.ID, gold.ID, licenses.VariantPatch{Name: &name}); err == nil {
				t.Errorf("a variant was renamed %q", name)
			} else {
				wantErr(t, err, "invalid_request")
			}
			if _, err := w.svc.UpdateVariant(as(w.dev), w.app.ID, gold.ID, licenses.VariantPatch{Description: &name}); err == nil {
				t.Errorf("a variant's description was set to %q", name)
			} else {
				wantErr(t, err, "invalid_request")
			}
		}

		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		for _, in := range []licenses.StatusInput{{Status: "LOGINSIGN VERIFIED"}, {Status: "PRO", VariantName: "Call +1 555 010 0199"}} {
			if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in); err == nil {
				t.Errorf("a status sync %+v created its variant", in)
			} else {
				wantErr(t, err, "invalid_request")
			}
		}
		if n := db.LicenseVariant.Query().Where(licensevariant.ApplicationID(w.app.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d variants stored, want only Gold", n)
		}

		// A name stored under the old rule: found by a sync, kept by an edit of something else.
		old := db.LicenseVariant.Create().SetApplicationID(w.app.ID).SetName("Hotline 555 010 0199").
			SetNameKey("hotline 555 010 0199").SaveX(ctx)
		if _, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "pro", VariantName: "Hotline 555 010 0199"}); err != nil {
			t.Errorf("a sync of a variant stored under the old rule: %v", err)
		}
		desc := "Support included"
		if _, err := w.svc.UpdateVariant(as(w.dev), w.app.ID, old.ID, licenses.VariantPatch{Description: &desc}); err != nil {
			t.Errorf("an edit of the description of a variant stored under the old rule: %v", err)
		}
	})
}
