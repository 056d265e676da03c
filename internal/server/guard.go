package server

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
	"loginsign/internal/profile"
	"loginsign/rest"
)

// Request-body limits of the routes that have no tighter one of their own (README, "Limits").
// Each handler that reads a body also bounds it itself (httpx.DecodeJSON's limit, the OAuth
// form's 64 KiB, …); this net refuses an announced oversized body before any handler runs.
const (
	// maxBody is the largest body of a REST route or page.
	maxBody = 1 << 20
	// maxImportBody is the largest body of an import (10,000 rows); code uploads have
	// rest.MaxUploadBody.
	maxImportBody = rest.MaxImportBody
)

// bodyLimit is the largest body r's route accepts. GraphQL is limited by graph.Endpoint
// (LOGINSIGN_GRAPHQL_MAX_BODY).
func bodyLimit(r *http.Request) int64 {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/oauth/"):
		return rest.MaxOAuthForm
	case strings.HasPrefix(p, "/api/developer/") && strings.HasSuffix(p, "/import-existing-users/csv"):
		return maxImportBody
	case strings.HasPrefix(p, "/api/developer/") && strings.HasSuffix(p, "/licenses/codes/upload"):
		return rest.MaxUploadBody
	default:
		return maxBody
	}
}

// refuse answers a request the edge will not pass on, in the error shape of its route: OAuth
// {"error","error_description"} (invalid_request); app-backend {"error","error_description"};
// GraphQL {"errors":[…]}; other APIs {"error","message"}; pages (the authorization, consent
// and logout pages included) plain text; pictures {"error","message"}, as their own errors.
func refuse(w http.ResponseWriter, r *http.Request, e *apperr.Error) {
	status := apperr.HTTPStatus(e.Code)
	p := r.URL.Path
	switch {
	case httpx.OAuthPage(p):
		// Pages a browser opens: no JSON for the person to read (openapi.yaml: HTML).
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, e.Message, status)
	case strings.HasPrefix(p, "/oauth/"):
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, status, rest.AppErrorBody{Error: "invalid_request", ErrorDescription: e.Message})
	case strings.HasPrefix(p, "/api/applications/"):
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, status, rest.AppErrorBody{Error: e.Name(), ErrorDescription: e.Message})
	case p == "/graphql":
		code := "BAD_REQUEST"
		if e.Code == apperr.TooLarge {
			code = "REQUEST_TOO_LARGE"
		}
		httpx.WriteJSON(w, status, map[string]any{"errors": []any{map[string]any{
			"message": e.Message, "extensions": map[string]any{"code": code}}}})
	case strings.HasPrefix(p, "/api/"), strings.HasPrefix(p, "/.well-known/"), strings.HasPrefix(p, profile.PicturePath):
		httpx.WriteError(w, r, e)
	default:
		http.Error(w, e.Message, status)
	}
}

// guardEdge refuses, before any handler runs, what no route accepts:
//   - a path or query that is not UTF-8 or holds a NUL (400): databases refuse such text,
//     and it would otherwise surface as a 500;
//   - a body announced (Content-Length) longer than its route's limit (413, bodyLimit),
//     without reading it; an unannounced one is cut at the limit, and the handler's read
//     fails with 413.
//
// /graphql's body is limited by graph.Endpoint, in its own setting.
func guardEdge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.CheckText("the path", r.URL.Path); err != nil {
			refuse(w, r, err)
			return
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				refuse(w, r, apperr.New(apperr.Invalid, "the query string is malformed"))
				return
			}
			for k, vs := range q {
				if err := httpx.CheckText("query parameter", k); err != nil {
					refuse(w, r, err)
					return
				}
				for _, v := range vs {
					if err := httpx.CheckText("query parameter "+k, v); err != nil {
						refuse(w, r, err)
						return
					}
				}
			}
		}
		if r.URL.Path == "/graphql" || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		limit := bodyLimit(r)
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			refuse(w, r, apperr.New(apperr.TooLarge, "body larger than %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// metricsHandler is the Prometheus exposition of s.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})
}

// metricsBehindToken serves /metrics on the main listener to requests bearing
// Authorization: Bearer LOGINSIGN_METRICS_TOKEN. Any other request gets what a path that
// does not exist gets (notFound, the HTML error page, whatever its method), so that
// nobody without the token learns that one is set.
func (s *Server) metricsBehindToken(notFound httpx.PageError) http.Handler {
	want := []byte("Bearer " + s.cfg.MetricsToken)
	serve := s.metricsHandler().ServeHTTP
	h := httpx.ByMethod{http.MethodGet: serve, http.MethodHead: serve}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			notFound(w, r, http.StatusNotFound, nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveMetrics serves /metrics alone on LOGINSIGN_METRICS_ADDR until ctx ends. A listener
// that cannot be opened (another instance on the host holds the port) is logged, not fatal:
// metrics are not worth refusing sign-ins for.
func (s *Server) serveMetrics(ctx context.Context) {
	if s.cfg.MetricsAddr == "" {
		return
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		s.log.Error("metrics: cannot listen; /metrics is not served", "addr", s.cfg.MetricsAddr, "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	s.log.Info("metrics are served", "addr", ln.Addr().String(), "path", "/metrics")
	go srv.Serve(ln)
}
