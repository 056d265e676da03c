// Package playground serves a self-contained GraphiQL page for the GraphQL API at /graphql.
//
// Everything the browser loads comes from this binary: the page, the script bundle and the
// stylesheet (fonts inlined) are embedded from assets/, which is build output committed to the
// repository. Nothing is fetched from a CDN, so the playground works without internet access.
//
// Rebuild the assets after changing web/playground (GraphiQL version, entry point, page):
//
//	cd web/playground && npm ci && npm run build
//
// The build writes graphiql.js, graphiql.css and index.html into
// internal/web/playground/assets/; index.html references the assets with a content hash in the
// query string, so the long immutable caching below is safe across rebuilds.
//
// Mount the handler on both the page and the asset prefix, for example:
//
//	h := playground.Handler()
//	mux.Handle("/playground", h)
//	mux.Handle("/playground/", h)
package playground

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"loginsign/internal/web/static"
)

//go:embed assets
var assets embed.FS

const (
	// PagePath is where the GraphiQL page is served.
	PagePath = "/playground"
	// AssetPrefix is the URL prefix of the page's script and stylesheet.
	AssetPrefix = "/playground/assets/"

	indexFile = "index.html"

	// noncePlaceholder in index.html is replaced with a fresh nonce on every request. The
	// bundle reads it from <meta name="csp-nonce"> and puts it on the few <style> elements
	// GraphiQL's dialogs inject (react-remove-scroll), which the CSP then allows.
	noncePlaceholder = "__CSP_NONCE__"

	assetCacheControl = "public, max-age=31536000, immutable"
)

// contentSecurityPolicy for the page: everything from this origin only, no inline scripts, no
// eval, no inline styles other than <style> elements with the page's nonce, no framing. data:
// is allowed for the fonts inlined into the stylesheet and for the empty favicon.
func contentSecurityPolicy(nonce string) string {
	return "default-src 'none'; " +
		"script-src 'self'; " +
		"style-src 'self' 'nonce-" + nonce + "'; " +
		"connect-src 'self'; " +
		"worker-src 'self'; " +
		"img-src 'self' data:; " +
		"font-src 'self' data:; " +
		"base-uri 'none'; " +
		"form-action 'none'; " +
		"frame-ancestors 'none'"
}

// file is one embedded file, read once at start-up.
type file struct {
	body        []byte
	contentType string
	etag        string
	// gzipped is body gzip-compressed (nil when that saves little), made on first request so
	// that compressing 1.7 MB does not slow the server's start.
	gzipped func() []byte
}

// contentTypes lists the types of the files the build produces; others fall back to the mime
// package.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".ttf":   "font/ttf",
	".txt":   "text/plain; charset=utf-8",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

type handler struct {
	// pageHead and pageTail are index.html before and after the nonce placeholder.
	pageHead, pageTail []byte
	assets             map[string]file // by base name, without index.html
}

// Handler serves GET and HEAD for PagePath (the GraphiQL page) and for the files under
// AssetPrefix. Any other path is 404; other methods on those paths are 405.
//
// It panics if the embedded assets are missing, which only happens with a broken build.
func Handler() http.Handler {
	h := &handler{assets: map[string]file{}}
	entries, err := fs.ReadDir(assets, "assets")
	if err != nil {
		panic("playground: reading embedded assets: " + err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		body, err := assets.ReadFile("assets/" + name)
		if err != nil {
			panic("playground: reading embedded " + name + ": " + err.Error())
		}
		sum := sha256.Sum256(body)
		f := file{body: body, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`,
			gzipped: sync.OnceValue(func() []byte { return static.Compress(body) })}
		if name == indexFile {
			head, tail, ok := bytes.Cut(body, []byte(noncePlaceholder))
			if !ok || bytes.Contains(tail, []byte(noncePlaceholder)) {
				panic("playground: " + indexFile + " must contain " + noncePlaceholder + " exactly once")
			}
			h.pageHead, h.pageTail = head, tail
			continue
		}
		h.assets[name] = f
	}
	if h.pageHead == nil {
		panic("playground: embedded assets have no " + indexFile + "; run the build in web/playground")
	}
	return h
}

func newNonce() string {
	b := make([]byte, 18)
	rand.Read(b) // never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var (
		asset file
		page  = p == PagePath
	)
	if !page {
		var ok bool
		if name, isAsset := strings.CutPrefix(p, AssetPrefix); isAsset {
			asset, ok = h.assets[name]
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
	}

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")

	if page {
		nonce := newNonce()
		hdr.Set("Content-Type", contentTypes[".html"])
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Security-Policy", contentSecurityPolicy(nonce))
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Length", strconv.Itoa(len(h.pageHead)+len(nonce)+len(h.pageTail)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(h.pageHead)
		w.Write([]byte(nonce))
		w.Write(h.pageTail)
		return
	}

	hdr.Set("Content-Type", asset.contentType)
	hdr.Set("Cache-Control", assetCacheControl)
	hdr.Add("Vary", "Accept-Encoding")
	body, etag := asset.body, asset.etag
	if z := asset.gzipped(); z != nil && static.AcceptsGzip(r) {
		body, etag = z, strings.TrimSuffix(asset.etag, `"`)+`-gzip"`
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("ETag", etag)
	// ServeContent handles HEAD, If-None-Match and Range.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
