// Package static serves LoginSign's embedded stylesheet, brand icons and page scripts.
//
// Every file is read once at start-up and named by a content hash: URL(name) returns
// "/static/name?v=<hash>", and a request carrying the current hash is cached for a year
// (immutable). A request without the hash (a page that links "/static/app.css" directly) is
// cached briefly and revalidated by ETag, so a new release is picked up within minutes.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed files
var embedded embed.FS

const (
	immutable   = "public, max-age=31536000, immutable"
	revalidated = "public, max-age=300, must-revalidate"
)

// Files is a tree of embedded files served under a URL prefix.
type Files struct {
	prefix string
	files  map[string]file
}

type file struct {
	body        []byte
	gzipped     []byte // body gzip-compressed, when that is smaller
	contentType string
	hash        string
}

// New serves fsys under prefix (which ends in "/"). It panics on an unreadable tree, which only
// a broken build produces.
func New(fsys fs.FS, prefix string) *Files {
	f := &Files{prefix: prefix, files: map[string]file{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f.files[p] = file{body: body, gzipped: Compress(body), contentType: ContentType(p), hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic("static: reading embedded files: " + err.Error())
	}
	return f
}

// Assets is LoginSign's shared stylesheet, brand icons and page scripts, served under /static/.
func Assets() *Files {
	sub, err := fs.Sub(embedded, "files")
	if err != nil {
		panic(err)
	}
	return New(sub, "/static/")
}

// URL is the cache-busted address of name; it panics on a name that is not embedded, so a
// typo in a template fails the first test that renders it.
func (f *Files) URL(name string) string {
	fl, ok := f.files[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return f.prefix + name + "?v=" + fl.hash
}

// Body returns the bytes of name, or nil.
func (f *Files) Body(name string) []byte { return f.files[name].body }

// ServeHTTP answers GET and HEAD for the files under the prefix; anything else is 404 or 405.
func (f *Files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, f.prefix)
	fl, found := f.files[name]
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	f.serve(w, r, fl)
}

// ServeFile answers with the embedded file name (for fixed public paths such as /brand/…).
func (f *Files) ServeFile(name string) http.Handler {
	fl, ok := f.files[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, fl) })
}

func (f *Files) serve(w http.ResponseWriter, r *http.Request, fl file) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	etag := `"` + fl.hash + `"`
	h.Set("ETag", etag)
	if r.URL.Query().Get("v") == fl.hash {
		h.Set("Cache-Control", immutable)
	} else {
		h.Set("Cache-Control", revalidated)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", fl.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	// Scripts and stylesheets may be loaded by apps' pages (the widget script, its
	// stylesheet and the brand icons).
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Add("Vary", "Accept-Encoding")
	body := fl.body
	if fl.gzipped != nil && AcceptsGzip(r) {
		body = fl.gzipped
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// Compress returns b gzip-compressed, or nil when that saves nothing worth having.
func Compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() >= len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// AcceptsGzip reports whether the request accepts a gzip-encoded answer.
func AcceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// ContentType is the Content-Type of a file name.
func ContentType(name string) string {
	switch ext := strings.ToLower(path.Ext(name)); ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	default:
		if ct := mime.TypeByExtension(ext); ct != "" {
			return ct
		}
		return "application/octet-stream"
	}
}
