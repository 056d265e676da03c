package httpx

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"loginsign/internal/ids"
)

type requestIDKey struct{}

// RequestID returns the id of the request in ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Observe gives each request an id (X-Request-Id, echoed), recovers panics as a 500 with the
// documented error body, and logs one line per request. observe, when set, receives the route
// pattern, status and duration (for metrics).
func Observe(log *slog.Logger, next http.Handler, observe func(r *http.Request, status int, d time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = ids.New("req_")
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(ctx, "panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					WriteJSON(sw, http.StatusInternalServerError, ErrorBody{Error: "internal", Message: "internal error"})
				}
			}
			d := time.Since(start)
			if observe != nil {
				observe(r, sw.status, d)
			}
			if log.Enabled(ctx, slog.LevelInfo) { // else the attributes are not built at all
				log.LogAttrs(ctx, slog.LevelInfo, "request",
					slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.String("ip", ClientIP(r)),
					slog.Int("status", sw.status), slog.Int("bytes", sw.size), slog.Duration("duration", d))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// HSTS is the Strict-Transport-Security of every answer of a server whose base URL is https,
// outside dev mode: two years, subdomains included (no preload: that is the operator's call).
const HSTS = "max-age=63072000; includeSubDomains"

// SecurityHeaders sets the headers every answer carries: nosniff, Referrer-Policy no-referrer
// and, outside dev mode when baseURL (LOGINSIGN_BASE_URL) is https, Strict-Transport-Security
// (HSTS). It is sent whatever the request's own scheme: behind a proxy that ends TLS the
// server sees plain HTTP, and browsers ignore the header on a plain-HTTP answer anyway
// (RFC 6797 §8.1). Never in dev mode or for an http base URL, where it would pin a developer's
// localhost (or an http-only host) to https.
func SecurityHeaders(next http.Handler, baseURL string, dev bool) http.Handler {
	hsts := false
	if u, err := url.Parse(baseURL); err == nil && u.Scheme == "https" && !dev {
		hsts = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if hsts {
			h.Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r)
	})
}

// BodyIdleTimeout gives a request body at most idle between reads (a slow sender holds a
// connection for idle, not for the whole request timeout), within total from the start of
// the request.
func BodyIdleTimeout(next http.Handler, idle, total time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle, end: time.Now().Add(total)}
		}
		next.ServeHTTP(w, r)
	})
}

type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
}

func (b *idleBody) Read(p []byte) (int, error) {
	d := time.Now().Add(b.idle)
	if d.After(b.end) {
		d = b.end
	}
	b.rc.SetReadDeadline(d)
	return b.ReadCloser.Read(p)
}
