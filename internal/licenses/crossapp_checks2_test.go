package licenses_test

import (
	"context"
	"testing"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestACodeListHoldsOnlyItsApplicationsCodes: a developer's code list holds the codes of the
// application they asked for, none of another developer's application, also when the search
// names one of those.
func TestACodeListHoldsOnlyItsApplicationsCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		mine := w.codes(t, w.variant(t, "Pro", ""), 3)
		rv := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "R"}))
		theirs := must[*licenses.Generated](t)(w.svc.GenerateCodes(as(w.rival), w.rivalApp.ID,
			licenses.GenerateInput{VariantID: rv.ID, Count: 4})).Codes

		p := must[*ent.LicenseCodeConnection](t)(w.svc.ListCodes(as(w.dev), w.app.ID, licenses.CodeQuery{}))
		for _, e := range p.Edges {
			if e.Node.ApplicationID != w.app.ID {
				t.Errorf("the list holds code %s of application %s", e.Node.Code, e.Node.ApplicationID)
			}
		}
		if p.TotalCount != len(mine) {
			t.Errorf("the list holds %d codes, want the application's %d", p.TotalCount, len(mine))
		}
		p = must[*ent.LicenseCodeConnection](t)(w.svc.ListCodes(as(w.dev), w.app.ID, licenses.CodeQuery{Q: theirs[0]}))
		if p.TotalCount != 0 {
			t.Errorf("a search for another application's code found %d codes, want none", p.TotalCount)
		}
	})
}

// TestACodeOfAnotherApplicationIsNotDeletedThroughOnesOwn: a developer who names their own
// application and another application's code id gets not_found, and the code stays.
func TestACodeOfAnotherApplicationIsNotDeletedThroughOnesOwn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.variant(t, "Pro", "")
		rv := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "R"}))
		code := must[*licenses.Generated](t)(w.svc.GenerateCodes(as(w.rival), w.rivalApp.ID,
			licenses.GenerateInput{VariantID: rv.ID, Count: 1})).Codes[0]
		theirs := must[*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.Code(code)).Only(context.Background()))

		wantErr(t, w.svc.DeleteCode(as(w.dev), w.app.ID, theirs.ID), "not_found")
		if ok := must[bool](t)(db.LicenseCode.Query().Where(licensecode.ID(theirs.ID)).Exist(context.Background())); !ok {
			t.Error("another application's code was deleted through the developer's own application")
		}
	})
}

// TestAnUploadIsNotToldOfAnotherApplicationsCodes: codes are unique per application, so a
// code another application holds is created, not reported as a duplicate: an upload cannot
// tell a developer which codes another application has.
func TestAnUploadIsNotToldOfAnotherApplicationsCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		pro := w.variant(t, "Pro", "")
		rv := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "R"}))
		must[*licenses.Uploaded](t)(w.svc.UploadCodes(as(w.rival), w.rivalApp.ID, rv.ID, []licenses.UploadRow{{Code: "RIVAL-0001"}}))

		got := must[*licenses.Uploaded](t)(w.svc.UploadCodes(as(w.dev), w.app.ID, pro.ID, []licenses.UploadRow{{Code: "rival0001"}}))
		if got.Created != 1 || len(got.Duplicates) != 0 {
			t.Errorf("upload of a code only another application holds: created %d, duplicates %q; want created 1, no duplicate",
				got.Created, got.Duplicates)
		}
	})
}

// TestAnUploadCannotUseAnotherApplicationsVariant: an upload into another application's
// variant, as the default or named on a row, is refused, and that variant gets no code.
func TestAnUploadCannotUseAnotherApplicationsVariant(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		pro := w.variant(t, "Pro", "")
		rv := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "Rival Gold"}))

		_, err := w.svc.UploadCodes(as(w.dev), w.app.ID, rv.ID, []licenses.UploadRow{{Code: "PLANT-0001"}})
		wantErr(t, err, "not_found")
		got := must[*licenses.Uploaded](t)(w.svc.UploadCodes(as(w.dev), w.app.ID, pro.ID, []licenses.UploadRow{
			{Line: 1, Code: "PLANT-0002", Variant: rv.ID},
			{Line: 2, Code: "PLANT-0003", Variant: "rival gold"},
		}))
		if got.Created != 0 || len(got.Invalid) != 2 {
			t.Errorf("rows naming another application's variant: created %d, invalid %+v; want none created, both invalid", got.Created, got.Invalid)
		}
		if n := must[int](t)(db.LicenseCode.Query().Where(licensecode.VariantID(rv.ID)).Count(context.Background())); n != 0 {
			t.Errorf("another application's variant holds %d codes planted by an upload, want 0", n)
		}
	})
}

// TestACustomerCountsOnlyTheCodesTheyHold: a variant's code counts are the whole stock for its
// developer, only the codes they hold for a connected person, and nothing for someone else
// (another developer, a person not connected).
func TestACustomerCountsOnlyTheCodesTheyHold(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "")
		codes := w.codes(t, v, 5)
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		w.connect(t, ann, w.app)
		w.connect(t, bob, w.app)
		must[*ent.LicenseCode](t)(w.svc.Redeem(as(ann), w.app.ID, codes[0]))
		must[*ent.LicenseCode](t)(w.svc.Redeem(as(bob), w.app.ID, codes[1]))
		stranger := w.person(t, "carl")

		for _, tt := range []struct {
			who  string
			ctx  context.Context
			want licenses.CodeCounts
		}{
			{"the developer", as(w.dev), licenses.CodeCounts{Unused: 3, Active: 2}},
			{"a customer holding one code", as(ann), licenses.CodeCounts{Active: 1}},
			{"another developer", as(w.rival), licenses.CodeCounts{}},
			{"a person not connected", as(stranger), licenses.CodeCounts{}},
		} {
			got, err := w.svc.VariantCodeCounts(tt.ctx, v)
			if err != nil || got != tt.want {
				t.Errorf("%s counts %+v (%v), want %+v", tt.who, got, err, tt.want)
			}
		}
	})
}
