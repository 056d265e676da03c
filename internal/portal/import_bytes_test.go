package portal_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"loginsign/ent/importrow"
	"loginsign/internal/portal"
)

// TestAnImportRowWithBytesADatabaseRefusesIsAnInvalidRow: a row whose id, address or name
// holds a NUL or bytes that are not UTF-8, whose name hides text (a right-to-left override),
// or whose overlong id would be cut inside a character, is an invalid row on every backend,
// and its report echoes what was sent as text: before, PostgreSQL refused the row's pending
// link or report (invalid byte sequence for encoding "UTF8"), and the import failed as an
// internal error (found by the mutation review's csvtable helper).
func TestAnImportRowWithBytesADatabaseRefusesIsAnInvalidRow(t *testing.T) {
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		csvRows := []string{
			"u\x001,a1@example.com,Ann",
			"u2,a2@example.com,A\xffnn",
			"u\xff3,a3@example.com,Ann",
			"u4,a\x004@example.com,Ann",
			"u5,a5\xff@example.com,Ann",
			"u6,a6@example.com,Ann \u202eeeL",
			strings.Repeat("x", 254) + "é,a7@example.com,Ann", // 256 bytes, the 255th inside é
		}
		users, err := portal.ParseImportCSV(strings.NewReader("user_id,email,name\n" + strings.Join(csvRows, "\n") + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, portal.ImportUser{ExternalUserID: "json\x00", Email: "j@example.com"}) // as JSON's "\u0000"
		dev := e.developer(t)
		res, err := e.svc.Import(dev, e.app(t, dev).ID, portal.ImportRequest{Users: users, SourceName: "CRM"})
		if err != nil {
			t.Fatalf("import: %v, want every row refused as invalid_row", err)
		}
		if n := res.Source.Counts[portal.ImportInvalidRow]; n != len(users) {
			t.Fatalf("counts %v, want all %d rows invalid", res.Source.Counts, len(users))
		}
		rows, err := e.db.ImportRow.Query().Where(importrow.SourceID(res.Source.ID)).All(ctx)
		if err != nil || len(rows) != len(users) {
			t.Fatalf("%d report rows stored (%v), want %d", len(rows), err, len(users))
		}
		for _, r := range rows {
			for _, s := range []string{r.ExternalUserID, r.Email} {
				if !utf8.ValidString(s) || strings.Contains(s, "\x00") || len(s) > 255 {
					t.Errorf("row %d echoes %q, which is not text a database stores", r.Row, s)
				}
			}
			if r.Message == "" {
				t.Errorf("row %d is invalid without a message", r.Row)
			}
		}
		if n, _ := e.db.PendingLink.Query().Count(ctx); n != 0 {
			t.Errorf("%d pending links proposed from invalid rows", n)
		}
	})
}
