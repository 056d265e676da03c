package httpx

import (
	"net/http"
	"slices"
	"strings"

	"loginsign/internal/apperr"
)

// APIErrors answers the mux's own "404 page not found" and "405 method not allowed" in the
// documented JSON shape for API paths (isAPIPath), so that every bad request to an API gets
// JSON; pages keep the mux's answers.
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
		case c.status == http.StatusNotFound && oauthShaped(r.URL.Path):
			WriteJSON(w, http.StatusNotFound, oauthErrorBody{Error: "not_found", Description: noSuchRoute(r)})
		case c.status == http.StatusNotFound:
			WriteJSON(w, http.StatusNotFound, ErrorBody{Error: "not_found", Message: noSuchRoute(r)})
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

func noSuchRoute(r *http.Request) string {
	return "no such route: " + apperr.Echo(r.Method) + " " + apperr.Echo(r.URL.Path)
}

// oauthErrorBody is the error shape of the OAuth endpoints and the app-backend API
// (openapi.yaml's OAuthError, RFC 6749 §5.2): {"error","error_description"}.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// oauthShaped reports whether p is in a route family whose errors are oauthErrorBody: the
// app-backend API (/api/applications/…) and the OAuth endpoints (/oauth/…) but for the pages a
// browser opens there (authorize, consent, logout), as the edge's refusals choose (server's
// refuse). A path no route serves under them (a typo, a trailing slash) is answered 404 in
// that shape too: before, it got the portal's {"error","message"}, and a backend's client
// reading error_description read nothing. (Their routes answer a wrong method themselves:
// rest.API.AppMethodNotAllowed, OAuthMethodNotAllowed.)
func oauthShaped(p string) bool {
	return !OAuthPage(p) && (strings.HasPrefix(p, "/api/applications/") || strings.HasPrefix(p, "/oauth/"))
}

// OAuthPage reports whether p is one of the pages a browser opens under /oauth/ (the
// authorization, consent and logout pages): their refusals are for a person, not JSON.
func OAuthPage(p string) bool {
	return p == "/oauth/authorize" || p == "/oauth/consent" || p == "/oauth/logout"
}

// isAPIPath reports whether p is answered by a program rather than shown to a person: the
// REST and OAuth routes (/api/, /oauth/, /.well-known/, /graphql), the pictures
// (/pictures/, whose errors openapi.yaml documents as {"error","message"}), and the
// operations routes /healthz, /readyz and /openapi.json (JSON documents). Their 404 and
// 405 answers are JSON; a person's pages keep the HTML error page. /metrics is left out: it
// answers a plain 404 without its token, as an unknown page does.
func isAPIPath(p string) bool {
	for _, prefix := range []string{"/api/", "/oauth/", "/.well-known/", "/graphql", "/pictures/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return p == "/healthz" || p == "/readyz" || p == "/openapi.json"
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

// ByMethod is one route's handlers by method, for a path registered without a method
// (mux.Handle(path, ByMethod{…})): another method is answered 405 in the documented JSON
// shape (MethodNotAllowed) with Allow naming exactly these methods. A GET handler does not
// take HEAD here unless HEAD is listed too.
//
// It is for a literal segment beside a {wildcard} one (…/users/export beside
// …/users/{connectionId}), and for that wildcard route: registered as "GET …/users/export"
// and "DELETE …/users/{connectionId}", net/http's mux sent DELETE …/users/export to the user
// deletion (id "export"), and listed the wildcard route's methods in the literal path's 405
// Allow. Both registered without a method, the literal path is the more specific pattern and
// each answers for its own methods.
type ByMethod map[string]http.HandlerFunc

func (m ByMethod) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for method := range m {
		allow = append(allow, method)
	}
	slices.Sort(allow)
	MethodNotAllowed(w, r, allow...)
}

// CrossSiteReason is the error code of a write a browser sent from a page of another site
// (http.CrossOriginProtection refused it): 403 on every route, nothing done.
const CrossSiteReason = "cross_site_request"

// CrossOriginRefused answers a write that http.CrossOriginProtection refused (a browser sent it
// from a page of another site: Sec-Fetch-Site cross-site or same-site, or, without Fetch
// Metadata, an Origin that is not this host's) with 403 in the shape of the route: the GraphQL
// errors of /graphql, the OAuth error of the OAuth endpoints, the documented
// {"error","message"} of the other API routes, and for a page's form (a mailed link's
// confirmation, the sign-in and consent forms) the HTML error page (page, status 403). The
// protection's own answer was a text/plain sentence on every route, which no client of the
// API could read as an error and which left a person on a bare line of text.
func CrossOriginRefused(page PageError) http.Handler {
	const msg = "this request was sent from a page of another site; LoginSign takes it only from its own pages or from a program (nothing was changed)"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/graphql" || strings.HasPrefix(p, "/graphql/"):
			w.Header().Set("Cache-Control", "no-store")
			WriteJSON(w, http.StatusForbidden, map[string]any{"errors": []any{
				map[string]any{"message": msg, "extensions": map[string]string{"code": CrossSiteReason}}}})
		case oauthShaped(p):
			WriteJSON(w, http.StatusForbidden, oauthErrorBody{Error: CrossSiteReason, Description: msg})
		case isAPIPath(p) && !OAuthPage(p) || page == nil:
			WriteJSON(w, http.StatusForbidden, ErrorBody{Error: CrossSiteReason, Message: msg})
		default:
			page(w, r, http.StatusForbidden, nil)
		}
	})
}
