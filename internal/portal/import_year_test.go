package portal_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/internal/portal"
)

// An import's date is a time RFC 3339 can write: one whose offset carries it before the year 1
// in UTC ("0000-01-01T00:00:00+23:59") is an invalid row and nothing of it is stored. Before,
// it was stored (a past date), and on SQLite, which keeps a time as its text, read back as no
// time at all.
func TestAnImportDateBeforeTheYearOneIsAnInvalidRow(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
			{ExternalUserID: "year-minus-one", Email: "old@example.com", LastLoginDate: "0000-01-01T00:00:00+23:59"},
			{ExternalUserID: "year-one", Email: "first@example.com", RegistrationDate: "0001-01-02T00:00:00Z"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res.Rows); got != "invalid_row,imported" {
			t.Fatalf("statuses %s, want invalid_row,imported", got)
		}
		if m := res.Rows[0].Message; !strings.HasPrefix(m, "lastLoginDate: ") || !strings.HasSuffix(m, " is before the year 1") {
			t.Errorf("message %q, want lastLoginDate: … is before the year 1", m)
		}
		if n := e.db.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).CountX(context.Background()); n > 1 {
			t.Errorf("%d connections or links stored, want at most the year-one row's", n)
		}
	})
}
