package openapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"loginsign/internal/openapi"
)

// get answers GET path with h.
func get(t *testing.T, h http.HandlerFunc, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestTheJSONDocumentIsServedCacheableToAnyOrigin(t *testing.T) {
	res, body := get(t, openapi.JSON, "/openapi.json")
	for name, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	served, err := openapi3.NewLoader().LoadFromData([]byte(body))
	doc, _ := openapi.Doc()
	if err != nil || res.StatusCode != http.StatusOK || served.Paths.Len() != doc.Paths.Len() {
		t.Fatalf("%d: %v, want the document", res.StatusCode, err)
	}
}

// article is the reference page's entry of the operation id.
func article(t *testing.T, page, id string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<article id="`+id+`">`)
	if !ok {
		t.Fatalf("/docs has no article %s", id)
	}
	a, _, _ := strings.Cut(rest, "</article>")
	return a
}

func TestTheReferencePageListsEveryOperationWithItsDetails(t *testing.T) {
	res, page := get(t, openapi.Docs, "/docs")
	if res.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "default-src 'none';") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("headers %v, want HTML with a script-free, unframeable policy", res.Header)
	}
	doc, _ := openapi.Doc()
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !strings.Contains(page, "<code>"+method+" "+path+"</code>") {
				t.Errorf("/docs lacks %s %s", method, path)
			}
		}
	}
	for id, wants := range map[string][]string{
		// parameters of the path item and of the operation
		"getApplication": {"<li><code>appId (path)</code></li>", "<li>200: The application</li>", "Authentication: session</p>"},
		// an empty requirement is the client's form credentials
		"token": {"Authentication: clientBasic or form client_id &#43; client_secret</p>"},
		// scopes after the scheme
		"currentLogins": {"Authentication: clientBasic or appBearer (app:users:read)</p>"},
	} {
		a := article(t, page, id)
		for _, want := range wants {
			if !strings.Contains(a, want) {
				t.Errorf("article %s lacks %q:\n%s", id, want, a)
			}
		}
	}
}

// Load is a copy a test may change without changing the served document.
func TestLoadIsACopyOfTheDocument(t *testing.T) {
	mine, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	shared, _ := openapi.Doc()
	if mine == shared {
		t.Fatal("Load returned the shared document")
	}
	mine.Servers = nil
	if len(shared.Servers) == 0 {
		t.Fatal("changing Load's copy emptied the shared document's servers")
	}
}
