package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"loginsign/ent"
	"loginsign/ent/importsource"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

// TestPortalImportsCSVWithServerReaderInBrowser: the portal's "Import from a CSV file" sends
// the file to POST …/import-existing-users/csv, read by the server's CSV reader: a
// semicolon-separated export (European Excel) with a user_id header imports, its results show
// row by row, and the run is stored as a csv import named by the file; an old Mac file (lone
// CR line ends) without a header row imports too. Before, the page read the file itself and
// refused the first ("The header row needs at least externalUserId and email.") and read the
// second's header-less first row as a header. On SQLite.
func TestPortalImportsCSVWithServerReaderInBrowser(t *testing.T) {
	ls := startLiveServer(t, storetest.URLs(t)["sqlite"])
	b := newChrome(t)
	b.shots = t.TempDir()
	defer b.report()
	ctx := context.Background()
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
	created, err := ls.portal.CreateApplication(devCtx, portal.ApplicationInput{
		Name: "Import App", RedirectURIs: []string{"https://import.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	appID := created.Application.ID
	// Two runs an hour: the third is refused with 429 rate_limited.
	ls.portal.Imports = ratelimit.Rule{Name: "imports", N: 2, Window: time.Hour}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tb := b.tab("developer")
	ls.signInByCookie(t, tb, dev.ID)
	upload := func(t *testing.T, path, marker string) {
		t.Helper()
		tb.open(t, ls.URL+"/portal/synchronisation?app="+appID+"#import-existing-users", "#import-form")
		tb.do(t, chromedp.SetUploadFiles(`#import-file`, []string{path}))
		tb.waitFor(t, `document.querySelector('#import-csv').value.includes(`+"`"+marker+"`"+`)`)
		tb.do(t, chromedp.Click(`#import-form button[type=submit]`))
		tb.waitFor(t, `document.querySelector('#import-results tbody tr') || document.querySelector('#import-form .field-error, #import-form [role=alert]')`)
	}
	results := func(t *testing.T) []string {
		t.Helper()
		return evalIn[[]string](t, tb, `[...document.querySelectorAll('#import-results tbody tr')].map(tr => [...tr.cells].slice(0, 4).map(td => td.textContent).join("|"))`)
	}
	source := func(t *testing.T, name string) *ent.ImportSource {
		t.Helper()
		s, err := ls.db.ImportSource.Query().Where(importsource.ApplicationID(appID), importsource.Name(name)).Only(ctx)
		if err != nil {
			t.Fatalf("the stored run %q: %v", name, err)
		}
		return s
	}

	t.Run("semicolons and a user_id header", func(t *testing.T) {
		path := write("europe.csv", "user_id;email;name\r\n42;ann@example.com;Ann Example\r\n43;nobody@example.com;No One\r\n44;not-an-address;Bad Row\r\n")
		upload(t, path, "not-an-address")
		got := results(t)
		want := []string{"1|42|ann@example.com|proposed", "2|43|nobody@example.com|proposed", "3|44|not-an-address|invalid row"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("results:\n%s\nwant:\n%s (page says %q)", strings.Join(got, "\n"), strings.Join(want, "\n"), tb.text(t, "#import-form"))
		}
		if s := tb.text(t, "#import-results .alert"); s != "3 rows: 2 proposed, 0 already connected, 1 invalid." {
			t.Errorf("the summary says %q", s)
		}
		if s := source(t, "europe.csv"); s.Kind != "csv" || s.Total != 3 {
			t.Errorf("stored run: kind %q total %d, want csv 3", s.Kind, s.Total)
		}
		tb.waitFor(t, `document.querySelector('#past-imports tr[data-import="europe.csv"]')`)
	})

	t.Run("old Mac line ends, no header row", func(t *testing.T) {
		path := write("mac.csv", "45;carl@example.com;Carl\r46;dora@example.com;Dora\r")
		upload(t, path, "dora@example.com")
		got := results(t)
		want := []string{"1|45|carl@example.com|proposed", "2|46|dora@example.com|proposed"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("results:\n%s\nwant:\n%s (page says %q)", strings.Join(got, "\n"), strings.Join(want, "\n"), tb.text(t, "#import-form"))
		}
		if s := source(t, "mac.csv"); s.Kind != "csv" || s.Total != 2 {
			t.Errorf("stored run: kind %q total %d, want csv 2", s.Kind, s.Total)
		}
	})

	// The server's refusals show on the page, in the REST error shape LS.post reads: a
	// malformed file next to the rows it came from, the hourly limit for the form; nothing
	// is shown as a result.
	t.Run("refusals", func(t *testing.T) {
		tb.allow("400")
		tb.allow("429")
		upload(t, write("bad.csv", "user_id;email\n4\"7;x@example.com\n"), "x@example.com")
		tb.waitFor(t, `document.querySelector('#import-csv').getAttribute('aria-invalid') === 'true'`)
		if s := tb.text(t, "#import-form"); !strings.Contains(s, "bad CSV: line 2") {
			t.Errorf("a malformed file: the page says %q", s)
		}
		upload(t, write("third.csv", "47;erin@example.com\n"), "erin@example.com")
		if s := tb.text(t, "#import-form"); !strings.Contains(s, "too many requests") {
			t.Errorf("past the hourly limit: the page says %q", s)
		}
		if n := evalIn[int](t, tb, `document.querySelectorAll('#import-results tbody tr').length`); n != 0 {
			t.Errorf("a refused run shows %d result rows", n)
		}
	})
	tb.checkProblems()
}
