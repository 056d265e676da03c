package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
	"loginsign/rest"
)

// Request-body limits of the routes that have no tighter one of their own (README, "Limits").
// Each handler that reads a body also bounds it itself (httpx.DecodeJSON's limit, the OAuth
// form's 64 KiB, …); this net refuses an announced oversized body before any handler runs.
const (
	// maxBody is the largest body of a REST route or page.
	maxBody = 1 << 20
	// maxImportBody is the largest body of an import or a code upload (10,000 rows).
	maxImportBody = rest.MaxImportBody
)

// bodyLimit returns the largest body r's route accepts and the answer to a larger one, in
// the route's error shape. GraphQL is limited by graph.Endpoint (its own shape and setting).
func bodyLimit(r *http.Request) (int64, func(http.ResponseWriter, *http.Request)) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/oauth/"):
		return rest.MaxOAuthForm, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusRequestEntityTooLarge, rest.AppErrorBody{Error: "invalid_request",
				ErrorDescription: fmt.Sprintf("the form body is larger than %d bytes", rest.MaxOAuthForm)})
		}
	case strings.HasPrefix(p, "/api/applications/"):
		return maxBody, func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteJSON(w, http.StatusRequestEntityTooLarge, rest.AppErrorBody{Error: string(apperr.TooLarge),
				ErrorDescription: fmt.Sprintf("body larger than %d bytes", maxBody)})
		}
	case strings.HasSuffix(p, "/import-existing-users/csv") || strings.HasSuffix(p, "/licenses/codes/upload"):
		return maxImportBody, tooLargeJSON(maxImportBody)
	case strings.HasPrefix(p, "/api/"):
		return maxBody, tooLargeJSON(maxBody)
	default: // pages: small forms
		return maxBody, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, fmt.Sprintf("413 request body larger than %d bytes", maxBody), http.StatusRequestEntityTooLarge)
		}
	}
}

func tooLargeJSON(limit int64) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, apperr.New(apperr.TooLarge, "body larger than %d bytes", limit))
	}
}

// limitBodies refuses a body longer than its route's limit (bodyLimit) with 413 before
// reading it, when Content-Length announces it, and otherwise caps what handlers can read at
// that limit. /graphql passes through to graph.Endpoint.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/graphql" || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		limit, refuse := bodyLimit(r)
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			refuse(w, r)
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
// Authorization: Bearer LOGINSIGN_METRICS_TOKEN; anyone else gets the ordinary 404.
func (s *Server) metricsBehindToken() http.Handler {
	want := []byte("Bearer " + s.cfg.MetricsToken)
	h := s.metricsHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.NotFound(w, r)
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
