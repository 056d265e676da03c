package licenses_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/ent/licensecode"
	"loginsign/internal/apperr"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// ownerCodes counts the codes stored in the applications owner owns.
func ownerCodes(t *testing.T, db *store.DB, apps ...*ent.Application) int {
	t.Helper()
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
	}
	return must[int](t)(db.LicenseCode.Query().Where(licensecode.ApplicationIDIn(ids...)).Count(context.Background()))
}

// TestCodeTotalPerOwner: the codes of all the applications one developer owns are bounded
// together (MaxCodes). A generation or upload that would pass the total is refused whole
// (invalid_request, saying the total) and stores nothing, whichever of the owner's
// applications it targets and whoever on the team makes it; another developer's codes do not
// count; deleting codes makes room again.
func TestCodeTotalPerOwner(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.MaxCodes = 10
		pro := w.variant(t, "Pro", "")
		second, _ := w.application(t, w.dev, "Second")
		gold := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.dev), second.ID, licenses.VariantInput{Name: "Gold"}))
		rivalVariant := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "R"}))
		// The rival's own codes, up to their own total, count for nobody else.
		must[*licenses.Generated](t)(w.svc.GenerateCodes(as(w.rival), w.rivalApp.ID, licenses.GenerateInput{VariantID: rivalVariant.ID, Count: 10}))

		codes := w.codes(t, pro, 6)
		up := must[*licenses.Uploaded](t)(w.svc.UploadCodes(as(w.dev), second.ID, gold.ID,
			[]licenses.UploadRow{{Code: "GOLD-0001"}, {Code: "GOLD-0002"}, {Code: "GOLD-0003"}}))
		if up.Created != 3 {
			t.Fatalf("uploaded %d, want 3", up.Created)
		}
		if n := ownerCodes(t, db, w.app, second); n != 9 {
			t.Fatalf("the owner's applications hold %d codes, want 9", n)
		}

		member := w.person(t, "member")
		db.AppMember.Create().SetApplicationID(second.ID).SetUserID(member.ID).SetRole(appmember.RoleDeveloper).
			SetEmail(member.Email).ExecX(ctx)
		refused := []struct {
			name string
			call func() error
		}{
			{"generate past the total", func() error {
				_, err := w.svc.GenerateCodes(as(w.dev), w.app.ID, licenses.GenerateInput{VariantID: pro.ID, Count: 2})
				return err
			}},
			{"upload past the total into the other application", func() error {
				_, err := w.svc.UploadCodes(as(w.dev), second.ID, gold.ID, []licenses.UploadRow{{Code: "GOLD-0004"}, {Code: "GOLD-0005"}})
				return err
			}},
			{"a team member counts against the owner", func() error {
				_, err := w.svc.GenerateCodes(as(member), second.ID, licenses.GenerateInput{VariantID: gold.ID, Count: 2})
				return err
			}},
		}
		for _, tt := range refused {
			err := tt.call()
			wantErr(t, err, "invalid_request")
			if msg := apperr.As(err).Message; !strings.Contains(msg, "at most 10 license codes") || !strings.Contains(msg, "delete") {
				t.Errorf("%s: message %q does not give the total and what to do", tt.name, msg)
			}
			if n := ownerCodes(t, db, w.app, second); n != 9 {
				t.Fatalf("%s: the owner's applications hold %d codes after a refused call, want 9", tt.name, n)
			}
		}

		// Up to the total exactly is allowed; one more is not.
		must[*licenses.Generated](t)(w.svc.GenerateCodes(as(member), second.ID, licenses.GenerateInput{VariantID: gold.ID, Count: 1}))
		_, err := w.svc.GenerateCodes(as(w.dev), w.app.ID, licenses.GenerateInput{VariantID: pro.ID, Count: 1})
		wantErr(t, err, "invalid_request")
		// The rival is not held back by the developer's full total.
		if _, err := w.svc.UploadCodes(as(w.rival), w.rivalApp.ID, rivalVariant.ID, []licenses.UploadRow{{Code: "RIVAL-0001"}}); err == nil {
			t.Fatal("the rival passed their own total of 10")
		}
		w.svc.MaxCodes = 11
		must[*licenses.Uploaded](t)(w.svc.UploadCodes(as(w.rival), w.rivalApp.ID, rivalVariant.ID, []licenses.UploadRow{{Code: "RIVAL-0001"}}))
		w.svc.MaxCodes = 10

		// Deleting codes makes room again: one code, then a variant with its codes.
		del := must[*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.Code(codes[0])).Only(ctx))
		if err := w.svc.DeleteCode(as(w.dev), w.app.ID, del.ID); err != nil {
			t.Fatal(err)
		}
		must[*licenses.Generated](t)(w.svc.GenerateCodes(as(w.dev), w.app.ID, licenses.GenerateInput{VariantID: pro.ID, Count: 1}))
		if err := w.svc.DeleteVariant(as(w.dev), second.ID, gold.ID, false); err != nil {
			t.Fatal(err)
		}
		must[*licenses.Generated](t)(w.svc.GenerateCodes(as(w.dev), w.app.ID, licenses.GenerateInput{VariantID: pro.ID, Count: 4}))
		if n := ownerCodes(t, db, w.app, second); n != 10 {
			t.Fatalf("the owner's applications hold %d codes, want 10", n)
		}
	})
}

// TestCodeTotalUnderConcurrency: concurrent generations into two applications of one owner
// never take the owner past the total together. The owner's row is locked before either
// application, so each call counts what the others committed.
func TestCodeTotalUnderConcurrency(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.svc.MaxCodes = 20
		pro := w.variant(t, "Pro", "")
		second, _ := w.application(t, w.dev, "Second")
		gold := must[*ent.LicenseVariant](t)(w.svc.CreateVariant(as(w.dev), second.ID, licenses.VariantInput{Name: "Gold"}))
		const calls, each = 12, 3
		errs := make([]error, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					_, errs[i] = w.svc.GenerateCodes(as(w.dev), w.app.ID, licenses.GenerateInput{VariantID: pro.ID, Count: each})
				} else {
					rows := make([]licenses.UploadRow, each)
					for j := range rows {
						rows[j] = licenses.UploadRow{Code: fmt.Sprintf("GOLD-%02d-%02d", i, j)}
					}
					_, errs[i] = w.svc.UploadCodes(as(w.dev), second.ID, gold.ID, rows)
				}
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.As(err).Name() != "invalid_request":
				t.Fatalf("a concurrent call failed with %v, want success or invalid_request", err)
			}
		}
		n := ownerCodes(t, db, w.app, second)
		if n > 20 || n != ok*each || ok != 20/each {
			t.Fatalf("%d calls of %d codes succeeded and %d codes are stored; want %d calls, at most 20 codes", ok, each, n, 20/each)
		}
	})
}
