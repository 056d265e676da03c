package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/klauspost/compress/zstd"

	"loginsign/internal/openapi"
)

var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // match the test servers' loopback hosts
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/jpeg", openapi3filter.FileBodyDecoder)
	return legacy.NewRouter(doc)
})

// validated wraps the server's handler so that every response to a route of the OpenAPI
// document (internal/openapi) is checked against it: its status must be documented (or covered
// by default) and its body must match the schema of its content type. A mismatch fails t, so
// every REST response of every test using the wrapped server is validated.
func validated(t testing.TB, h http.Handler) http.Handler {
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if err != nil {
			// Not a route of the document: pages, GraphQL, and refusals before routing (4xx)
			// are fine; a successful /api/, /oauth/ or /.well-known/ answer is a REST route
			// nobody described.
			if isRESTPath(r.URL.Path) && rec.status < 400 {
				t.Errorf("OpenAPI: %s %s answered %d but is not in the document", r.Method, r.URL.Path, rec.status)
			}
			return
		}
		body := rec.body.Bytes()
		switch enc := rec.Header().Get("Content-Encoding"); enc {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				t.Errorf("%s %s: a gzip response that is not gzip: %v", r.Method, r.URL.Path, err)
				return
			}
		case "zstd": // gzhttp answers zstd to clients that accept it (browsers)
			zr, err := zstd.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = io.ReadAll(zr)
				zr.Close()
			}
			if err != nil {
				t.Errorf("%s %s: a zstd response that is not zstd: %v", r.Method, r.URL.Path, err)
				return
			}
		case "":
		default:
			t.Errorf("%s %s: unexpected Content-Encoding %q", r.Method, r.URL.Path, enc)
			return
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
			Status:                 rec.status,
			Header:                 rec.Header(),
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			body := string(body)
			if len(body) > 500 {
				body = body[:500] + "…"
			}
			t.Errorf("OpenAPI: %s %s answered %d %s that the document does not describe: %v\nbody: %s",
				r.Method, r.URL.Path, rec.status, rec.Header().Get("Content-Type"), err, body)
		}
	})
}

func isRESTPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/oauth/") || strings.HasPrefix(p, "/.well-known/")
}

// recordingWriter passes a response through and keeps a copy of its status and body.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	if w.body.Len() < 8<<20 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Every operation of the document is reachable on the server (no route described that does
// not exist), /openapi.json serves the document, and /docs lists every operation.
func TestOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	e := sqliteEnv(t)
	doc, err := openapi.Doc()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	served, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil || served.Paths.Len() != doc.Paths.Len() || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %v, %d paths", err, served.Paths.Len())
	}
	resp, err = http.Get(e.base + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mux := e.srv.routes()
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			concrete := strings.NewReplacer("{appId}", "app_x", "{globalId}", "1", "{connectionId}", "con_x",
				"{sourceId}", "src_x", "{variantId}", "var_x", "{codeId}", "lic_x", "{eventId}", "evt_x", "{pictureId}", "pic_x").Replace(path)
			req := httptest.NewRequest(method, concrete, nil)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), "no such route") {
				t.Errorf("%s %s is described but not served (%d %s)", method, path, rec.Code, rec.Body.String())
			}
			if !bytes.Contains(page, []byte("<code>"+method+" "+path+"</code>")) {
				t.Errorf("/docs lacks %s %s", method, path)
			}
		}
	}
}
