package licenses_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/appmember"
	"loginsign/ent/licensecode"
	"loginsign/internal/activity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestGeneratedCodesUseTheWholeLookAlikeFreeAlphabet: generated codes are drawn from the 32
// symbols without 0, O, 1 and I, all of them (five bits a symbol, 80 bits a code).
func TestGeneratedCodesUseTheWholeLookAlikeFreeAlphabet(t *testing.T) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		used := map[rune]int{}
		for _, c := range w.codes(t, w.variant(t, "Pro", ""), 500) {
			for _, r := range strings.ReplaceAll(c, "-", "") {
				if !strings.ContainsRune(alphabet, r) {
					t.Fatalf("code %q has %q, outside %s", c, r, alphabet)
				}
				used[r]++
			}
		}
		if len(used) != len(alphabet) {
			t.Fatalf("500 codes use %d symbols, want all %d of %s", len(used), len(alphabet), alphabet)
		}
	})
}

// TestUploadedCodesNeedFourToSixtyFourCharactersAndAFourCharacterKey: an uploaded code is at
// most 64 characters as written, and its key (without hyphens) at least 4.
func TestUploadedCodesNeedFourToSixtyFourCharactersAndAFourCharacterKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "")
		rows := []licenses.UploadRow{
			{Line: 1, Code: "A--B"},                         // 4 characters, key AB
			{Line: 2, Code: "A-" + strings.Repeat("X", 63)}, // 65 characters, key of 64
			{Line: 3, Code: "GOOD-CODE"},
		}
		got, err := w.svc.UploadCodes(as(w.dev), w.app.ID, v.ID, rows)
		if err != nil {
			t.Fatal(err)
		}
		if got.Created != 1 || len(got.Invalid) != 2 || got.Invalid[0].Line != 1 || got.Invalid[1].Line != 2 {
			t.Fatalf("upload = created %d, invalid %+v; want 1 created, lines 1 and 2 invalid", got.Created, got.Invalid)
		}
	})
}

// TestADefaultVariantIsNamedByItsID: UploadCodes' variantID is an id; a variant's name there
// is not found (a row's variant column is where names go).
func TestADefaultVariantIsNamedByItsID(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.variant(t, "pro", "")
		_, err := w.svc.UploadCodes(as(w.dev), w.app.ID, "pro", []licenses.UploadRow{{Code: "ABCD-1"}})
		wantErr(t, err, "not_found")
	})
}

// licenseActions returns the license_action events of app as action:count.
func licenseActions(t *testing.T, db *store.DB, app *ent.Application) []string {
	t.Helper()
	evs := must[[]*ent.ActivityEvent](t)(db.ActivityEvent.Query().Where(activityevent.Type(string(activity.LicenseAction)),
		activityevent.ApplicationID(app.ID)).Order(ent.Asc(activityevent.FieldCreatedAt), ent.Asc(activityevent.FieldID)).All(context.Background()))
	var out []string
	for _, ev := range evs {
		if a := ev.Details["action"]; strings.HasPrefix(a, "code") {
			out = append(out, a+":"+ev.Details["count"])
		}
	}
	return out
}

// TestCodeWritesAreLogged: generating, uploading and deleting codes each log a license_action
// with how many codes it created or deleted; an upload counts what it created, not the
// duplicates it skipped.
func TestCodeWritesAreLogged(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "")
		codes := w.codes(t, v, 3)
		w.clock.Add(time.Second)
		if _, err := w.svc.UploadCodes(as(w.dev), w.app.ID, v.ID, []licenses.UploadRow{{Code: "NEW-0001"}, {Code: codes[0]}}); err != nil {
			t.Fatal(err)
		}
		w.clock.Add(time.Second)
		id := must[string](t)(db.LicenseCode.Query().Where(licensecode.Code(codes[1])).OnlyID(context.Background()))
		if err := w.svc.DeleteCode(as(w.dev), w.app.ID, id); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(licenseActions(t, db, w.app), ",")
		if want := "codes_generated:3,codes_uploaded:1,code_deleted:1"; got != want {
			t.Fatalf("logged %s, want %s", got, want)
		}
	})
}

// TestASupportMemberCannotDeleteACode: deleting a code needs the manage-licenses role; a
// support member (read only) gets forbidden and the code stays.
func TestASupportMemberCannotDeleteACode(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Pro", ""), 1)[0]
		member := w.person(t, "support")
		db.AppMember.Create().SetApplicationID(w.app.ID).SetUserID(member.ID).SetRole(appmember.RoleSupport).
			SetEmail(member.Email).ExecX(context.Background())
		id := must[string](t)(db.LicenseCode.Query().Where(licensecode.Code(code)).OnlyID(context.Background()))
		err := w.svc.DeleteCode(as(member), w.app.ID, id)
		wantErr(t, err, "forbidden")
		if n := unusedCount(t, w); n != 1 {
			t.Fatalf("unused codes after the support member's delete = %d, want 1", n)
		}
	})
}

// TestCodeCreationsCountAgainstTheBulkLimit: generations and uploads share the developer's
// Bulk allowance; past it they answer rate_limited and create nothing.
func TestCodeCreationsCountAgainstTheBulkLimit(t *testing.T) {
	for _, name := range []string{"generate", "upload"} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				w := newWorld(t, db)
				v := w.variant(t, "Pro", "")
				w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
				w.svc.Bulk = ratelimit.Rule{Name: ids.RandomLower(8) + ":bulk", N: 1, Window: time.Hour}
				create := func(code string) error {
					if name == "generate" {
						_, err := w.svc.GenerateCodes(as(w.dev), w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 1})
						return err
					}
					_, err := w.svc.UploadCodes(as(w.dev), w.app.ID, v.ID, []licenses.UploadRow{{Code: code}})
					return err
				}
				if err := create("FIRST-1"); err != nil {
					t.Fatal(err)
				}
				wantErr(t, create("SECOND-2"), "rate_limited")
				if n := unusedCount(t, w); n != 1 {
					t.Fatalf("codes after the limited %s = %d, want 1", name, n)
				}
			})
		})
	}
}

// TestReadCodesCSVRefusesMoreThanMaxUpload: the CSV reader stops at MaxUpload codes before
// anything is checked or stored.
func TestReadCodesCSVRefusesMoreThanMaxUpload(t *testing.T) {
	var b strings.Builder
	b.WriteString("code\n")
	for i := 0; i <= licenses.MaxUpload; i++ {
		b.WriteString("CODE-")
		b.WriteString(strings.Repeat("A", 1+i%5))
		b.WriteString("\n")
	}
	_, err := licenses.ReadCodesCSV(strings.NewReader(b.String()))
	wantErr(t, err, "invalid_request")
	rows, err := licenses.ReadCodesCSV(strings.NewReader("code\nABCD-1\n"))
	if err != nil || len(rows) != 1 {
		t.Fatalf("one row = %v, %v", rows, err)
	}
}

// TestAForcedVariantDeleteTellsEachHolder: a forced delete of a variant whose codes are held
// logs a license_ended for each holder, on their own connection.
func TestAForcedVariantDeleteTellsEachHolder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "")
		codes := w.codes(t, v, 3)
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		annConn, bobConn := w.connect(t, ann, w.app), w.connect(t, bob, w.app)
		for i, u := range []*ent.User{ann, bob} {
			if _, err := w.svc.Redeem(as(u), w.app.ID, codes[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.svc.DeleteVariant(as(w.dev), w.app.ID, v.ID, true); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*ent.AppConnection{annConn, bobConn} {
			n := must[int](t)(db.ActivityEvent.Query().Where(activityevent.Type(string(activity.LicenseEnded)),
				activityevent.ConnectionID(c.ID), activityevent.UserID(c.UserID)).Count(context.Background()))
			if n != 1 {
				t.Fatalf("license_ended events of %s = %d, want 1", c.ID, n)
			}
		}
	})
}
