package portalui_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/web/page"
	"loginsign/internal/web/portalui"
	"loginsign/internal/web/static"
)

// TestThePortalCountsAChosenFilesRowsAsTheServerReadsThem (review helper cost23, checks23):
// choosing a CSV on the import form said "users.csv: N rows read", N the file's lines less
// one, as if every file began with a header row: a file without one (which the server reads
// by column order) was announced a row short, and a quoted field over two lines a row long.
// The page now counts records as the server's reader does and takes the first off only when
// it names a column, by the names the server accepts, which the page carries
// (data-import-columns): every name there is read as a header by the server, and portal.js
// counts with them (csvRows), no longer with its line count.
func TestThePortalCountsAChosenFilesRowsAsTheServerReadsThem(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	u, err := db.Client.User.Create().SetGlobalID("AB1234").SetEmail("ann@example.com").Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := portalui.New(&identity.Service{DB: db}, nil, page.New(static.Assets()))
	req := httptest.NewRequest(http.MethodGet, "/portal/synchronisation", nil)
	req = req.WithContext(auth.WithSession(req.Context(), auth.Session{UserID: u.ID, ID: "s"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the synchronisation page: %d %s", rec.Code, rec.Body)
	}
	m := regexp.MustCompile(`<div id="view"[^>]* data-import-columns="([^"]*)"`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatal("the page's #view carries no data-import-columns")
	}
	names := strings.Fields(html.UnescapeString(m[1]))
	if len(names) == 0 {
		t.Fatal("data-import-columns names no column")
	}
	for _, name := range []string{"user_id", "email"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+name+" ") {
			t.Errorf("data-import-columns %q lacks %s", names, name)
		}
	}
	for _, name := range names {
		// A first row naming only this column (and one no format knows) is a header to the
		// server: never read as a row of its own.
		users, err := portal.ParseImportCSV(strings.NewReader(name + ",zz_not_a_column\n1,a@example.com\n"))
		if (err == nil && len(users) != 1) || (err != nil && !strings.Contains(err.Error(), "header row")) {
			t.Errorf("%q as the first row: %d rows, %v; want it read as the header", name, len(users), err)
		}
	}
	js := string(static.Assets().Body("portal.js"))
	if strings.Contains(js, "lines(t).length - 1") || !strings.Contains(js, "count: csvRows(t)") || !strings.Contains(js, `"data-import-columns"`) {
		t.Error("portal.js does not count a chosen file's rows with csvRows and the page's data-import-columns")
	}
}
