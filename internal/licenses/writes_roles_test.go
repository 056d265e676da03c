package licenses_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestLicenseWritesCheckTheRoleWhereTheyWrite: every license write checks the caller's role
// again in the transaction that writes, so a member taken off the team while the call runs
// writes nothing. Here the removal commits after the call has passed the checks it makes
// before that transaction (generating and uploading check the role before counting the Bulk
// limit) and before it writes: the call answers not_found, as for anyone off the team, and
// the codes and variants are as they were. (A 10,000-code upload is the case that matters: it
// takes a while, and it used to commit whatever happened to the team meanwhile.)
func TestLicenseWritesCheckTheRoleWhereTheyWrite(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip("needs PostgreSQL (" + storetest.EnvPostgres + "): a lock holds the call between its checks and its write")
	}
	ctx := context.Background()
	db := storetest.Postgres(t, base)
	w := newWorld(t, db)
	v := w.variant(t, "Pro", "")
	w.codes(t, v, 3)
	unused := db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).FirstIDX(ctx)
	upload := make([]licenses.UploadRow, licenses.MaxUpload)
	for i := range upload {
		upload[i] = licenses.UploadRow{Code: fmt.Sprintf("UPLOADED-%05d", i)}
	}
	tests := []struct {
		name string
		// table is the first table the call reads after the checks it makes before writing:
		// the removal holds it, so the call waits there.
		table string
		write func(ctx context.Context) error
	}{
		{"generate codes", licensevariant.Table, func(ctx context.Context) error {
			_, err := w.svc.GenerateCodes(ctx, w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: licenses.MaxGenerate})
			return err
		}},
		{"upload codes", licensevariant.Table, func(ctx context.Context) error {
			_, err := w.svc.UploadCodes(ctx, w.app.ID, v.ID, upload)
			return err
		}},
		{"delete a code", licensecode.Table, func(ctx context.Context) error {
			return w.svc.DeleteCode(ctx, w.app.ID, unused)
		}},
		{"create a variant", licensevariant.Table, func(ctx context.Context) error {
			_, err := w.svc.CreateVariant(ctx, w.app.ID, licenses.VariantInput{Name: "Team"})
			return err
		}},
		{"rename a variant", licensevariant.Table, func(ctx context.Context) error {
			name := "Pro Max"
			_, err := w.svc.UpdateVariant(ctx, w.app.ID, v.ID, licenses.VariantPatch{Name: &name})
			return err
		}},
		{"delete a variant", licensevariant.Table, func(ctx context.Context) error {
			return w.svc.DeleteVariant(ctx, w.app.ID, v.ID, true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			member := w.person(t, "member")
			db.AppMember.Create().SetApplicationID(w.app.ID).SetUserID(member.ID).SetRole(appmember.RoleDeveloper).
				SetEmail(member.Email).ExecX(ctx)
			before := licenseState(t, db, w.app)
			err := removedMidway(t, db, w.app, member, tt.table, func() error { return tt.write(as(member)) })
			wantErr(t, err, "not_found")
			if after := licenseState(t, db, w.app); after != before {
				t.Errorf("a member removed during the call changed the licenses:\n got %s\nwant %s", after, before)
			}
		})
	}
}

// licenseState describes app's variants and codes, to compare before and after a call.
func licenseState(t *testing.T, db *store.DB, app *ent.Application) string {
	t.Helper()
	ctx := context.Background()
	var names []string
	for _, v := range db.LicenseVariant.Query().Where(licensevariant.ApplicationID(app.ID)).AllX(ctx) {
		names = append(names, v.ID+" "+v.Name)
	}
	slices.Sort(names)
	codes := db.LicenseCode.Query().Where(licensecode.ApplicationID(app.ID)).CountX(ctx)
	return fmt.Sprintf("variants %q, %d codes", names, codes)
}

// removedMidway runs op while member's removal from app is under way, and returns op's error.
// The removal locks the application row and deletes the member row, as team.Remove does, and
// also holds table (ACCESS EXCLUSIVE, which stops even reads), so op passes every check it makes
// before it touches table, then waits there. Once op waits for a lock, the removal commits.
// PostgreSQL only.
func removedMidway(t *testing.T, db *store.DB, app *ent.Application, member *ent.User, table string, op func() error) error {
	t.Helper()
	ctx := context.Background()
	removal, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer removal.Rollback()
	removal.Application.Query().Where(application.ID(app.ID)).ForUpdate().OnlyX(ctx)
	if _, err := removal.ExecContext(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	removal.AppMember.Delete().Where(appmember.ApplicationID(app.ID), appmember.UserID(member.ID)).ExecX(ctx)
	done := make(chan error, 1)
	go func() { done <- op() }()
	if err, ended := storetest.AwaitLockWaiters(t, db, 1, done); ended {
		t.Fatalf("the call finished without waiting for the removal: %v", err)
	}
	if err := removal.Commit(); err != nil {
		t.Fatal(err)
	}
	return <-done
}
