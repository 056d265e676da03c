package rest_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"
	"unicode/utf8"

	"loginsign/ent/importsource"
	"loginsign/internal/portal"
)

// TestALongFileNameNamesTheImportCutToANamesLength: a CSV file sent without a sourceName
// names its run, and a file name longer than a name may be is cut to MaxSourceName
// characters. Before, the import was refused (400, "sourceName is longer than 200
// characters") for a name the developer never typed, as the portal sends the chosen file's
// own name.
func TestALongFileNameNamesTheImportCutToANamesLength(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, _, cookie := e.client(t)
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		name := strings.Repeat("ü", 250) + ".csv"
		part, err := w.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		part.Write([]byte("user_id;email\nu1;x@example.com\n"))
		w.Close()
		imp := "/api/developer/applications/" + app.ID + "/import-existing-users/csv"
		if a := e.do(t, "POST", imp, w.FormDataContentType(), body.String(), nil, cookie); a.status != 200 {
			t.Fatalf("import of a file with a long name = %d %v", a.status, a.body)
		}
		src, err := e.db.ImportSource.Query().Where(importsource.ApplicationID(app.ID)).Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n := utf8.RuneCountInString(src.Name); n != portal.MaxSourceName || !strings.HasPrefix(name, src.Name) {
			t.Errorf("the run is named %q (%d characters), want the file name's first %d", src.Name, n, portal.MaxSourceName)
		}
	})
}
