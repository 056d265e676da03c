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
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

const (
	// PagePath is where the GraphiQL page is served.
	PagePath = "/playground"
	// AssetPrefix is the URL prefix of the page's script and stylesheet.
	AssetPrefix = "/playground/assets/"

	indexFile = "index.html"

	// contentSecurityPolicy for the page: everything from this origin only, no inline
	// scripts, no eval, no framing. data: is allowed for the fonts and icons inlined into the
	// stylesheet.
	contentSecurityPolicy = "default-src 'none'; " +
		"script-src 'self'; " +
		"style-src 'self'; " +
		"connect-src 'self'; " +
		"worker-src 'self'; " +
		"img-src 'self' data:; " +
		"font-src 'self' data:; " +
		"base-uri 'none'; " +
		"form-action 'none'; " +
		"frame-ancestors 'none'"

	assetCacheControl = "public, max-age=31536000, immutable"
)

// file is one embedded file, read once at start-up.
type file struct {
	body        []byte
	contentType string
	etag        string
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
	page   file
	assets map[string]file // by base name, without index.html
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
		f := file{body: body, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		if name == indexFile {
			h.page = f
			continue
		}
		h.assets[name] = f
	}
	if h.page.body == nil {
		panic("playground: embedded assets have no " + indexFile + "; run the build in web/playground")
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var (
		f    file
		page bool
	)
	switch p := r.URL.Path; {
	case p == PagePath:
		f, page = h.page, true
	case strings.HasPrefix(p, AssetPrefix):
		var ok bool
		f, ok = h.assets[strings.TrimPrefix(p, AssetPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if page {
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("X-Frame-Options", "DENY")
	} else {
		hdr.Set("Cache-Control", assetCacheControl)
	}
	// ServeContent handles HEAD, If-None-Match and Range.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
