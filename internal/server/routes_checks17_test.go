package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/openapi"
	"loginsign/internal/store/storetest"
)

// exportPaths are the routes that build a whole export: they answer GET alone (no HEAD).
var exportPaths = []string{"/api/account/export", "/api/developer/applications/{appId}/users/export"}

// TestEachRoutesOtherMethodsAre405NamingItsOwnMethods: every path of openapi.yaml answers a
// method it does not take with 405 whose Allow lists exactly the methods the document gives it
// (and HEAD beside GET, but for the exports), in JSON for every path that is not a page.
// Before, a literal path beside a {wildcard} sibling (…/users/export beside
// …/users/{connectionId}, …/codes/upload and …/codes/generate beside …/codes/{codeId},
// …/members/invitations and …/members/leave beside …/members/{userId}) sent the sibling's
// methods to the sibling (DELETE …/users/export deleted the user "export": 404) and listed
// them in its 405's Allow; /healthz, /readyz, /openapi.json and /pictures/… answered 405 with
// the HTML error page.
func TestEachRoutesOtherMethodsAre405NamingItsOwnMethods(t *testing.T) {
	e := sqliteEnv(t)
	doc, err := openapi.Doc()
	if err != nil {
		t.Fatal(err)
	}
	h := e.srv.routes()
	for path, item := range doc.Paths.Map() {
		var own []string
		page := false
		for m, op := range item.Operations() {
			own = append(own, m)
			if r := op.Responses.Value("200"); r != nil && r.Value != nil && r.Value.Content.Get("text/html") != nil {
				page = true
			}
		}
		if slices.Contains(own, "GET") && !slices.Contains(exportPaths, path) {
			own = append(own, "HEAD")
		}
		slices.Sort(own)
		allow := strings.Join(own, ", ")
		concrete := strings.NewReplacer("{appId}", e.app.ID, "{globalId}", "1", "{connectionId}", "con_x",
			"{sourceId}", "src_x", "{variantId}", "var_x", "{codeId}", "lic_x", "{eventId}", "evt_x", "{pictureId}", "pic_x").Replace(path)
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			if slices.Contains(own, m) {
				continue
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(m, concrete, nil))
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != allow {
				t.Errorf("%s %s = %d Allow %q, want 405 Allow %q (%.100s)", m, path, rec.Code, rec.Header().Get("Allow"), allow, rec.Body.String())
				continue
			}
			if page || m == "HEAD" {
				continue
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] == nil ||
				!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("%s %s = 405 %s %.100q, want the JSON error shape", m, path, rec.Header().Get("Content-Type"), rec.Body.String())
			}
		}
	}
	// A path under /pictures/ that no route takes is a JSON 404 too, like one under /api/.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/pictures/a/b", nil))
	if rec.Code != 404 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET /pictures/a/b = %d %s, want a JSON 404", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestAHeadOfAnExportSpendsNoExport: HEAD on the exports is 405 naming GET, before any work,
// so a download manager's HEAD before its GET no longer spends one of the person's three
// exports a day (and mails them a notice) or one of the developer's ten an hour. Before, the
// GET handler ran for HEAD: three HEADs used up the day's person exports (the GET after them
// answered 429), ten the hour's users exports.
func TestAHeadOfAnExportSpendsNoExport(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	dev := e.cookie(e.dev)
	for _, path := range []string{"/api/account/export", "/api/developer/applications/" + e.app.ID + "/users/export"} {
		for range 12 {
			code, hdr, body := e.call("HEAD", path, nil, nil, dev)
			if code != 405 || hdr.Get("Allow") != "GET" {
				t.Errorf("HEAD %s = %d Allow %q %s, want 405 Allow GET", path, code, hdr.Get("Allow"), body)
			}
		}
		if code, _, body := e.call("GET", path, nil, nil, dev); code != 200 {
			t.Errorf("GET %s after 12 HEADs = %d %.200s, want 200 (no export spent by a HEAD)", path, code, body)
		}
	}
}
