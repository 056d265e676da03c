package httpx

import (
	"net/http"
	"strings"
)

// APIErrors answers the mux's own "404 page not found" and "405 method not allowed" in the
// documented JSON shape for API paths (/api/, /oauth/, /.well-known/, /graphql), so that
// every bad request to an API gets JSON; pages keep the mux's answers.
func APIErrors(mux *http.ServeMux) http.Handler { return ErrorPages(mux, nil) }

// PageError writes the HTML answer to a request for a page that does not exist (404) or a
// method the page does not take (405, allow lists the methods it takes).
type PageError func(w http.ResponseWriter, r *http.Request, status int, allow []string)

// ErrorPages is APIErrors whose unmatched non-API paths are answered by page (nil: the mux's
// plain-text answers).
func ErrorPages(mux *http.ServeMux, page PageError) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		api := isAPIPath(r.URL.Path)
		if pattern != "" || (!api && page == nil) {
			mux.ServeHTTP(w, r)
			return
		}
		c := &captureWriter{header: http.Header{}}
		h.ServeHTTP(c, r)
		switch {
		case !api && (c.status == http.StatusMethodNotAllowed || c.status == http.StatusNotFound):
			page(w, r, c.status, c.header.Values("Allow"))
		case c.status == http.StatusMethodNotAllowed:
			MethodNotAllowed(w, r, c.header.Values("Allow")...)
		case c.status == http.StatusNotFound:
			WriteJSON(w, http.StatusNotFound, ErrorBody{Error: "not_found", Message: "no such route: " + r.Method + " " + r.URL.Path})
		default:
			// A redirect (trailing slash or cleaned path): pass it on as the mux gave it.
			for k, v := range c.header {
				w.Header()[k] = v
			}
			w.WriteHeader(c.status)
			w.Write(c.body)
		}
	})
}

func isAPIPath(p string) bool {
	for _, prefix := range []string{"/api/", "/oauth/", "/.well-known/", "/graphql"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// captureWriter records what the mux's fallback handler answers.
type captureWriter struct {
	header http.Header
	status int
	body   []byte
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body = append(c.body, b...)
	return len(b), nil
}
