package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnknownAppBackendAndOAuthRoutesAnswerTheirFamilysErrorShape: the app-backend API
// (/api/applications/…) and the OAuth endpoints answer every error as
// {"error","error_description"} (openapi.yaml's OAuthError; rest.writeAppError, the edge's
// refusals in the same shape), but a path under them that no route serves (a typo, a trailing
// slash, …/users/{globalId} without /status) got the portal's {"error","message"} from the
// mux's 404, so a backend's client that reads error_description read nothing. The other API
// paths keep {"error","message"}.
func TestUnknownAppBackendAndOAuthRoutesAnswerTheirFamilysErrorShape(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }
	mux.HandleFunc("GET /api/applications/{appId}/users", ok)
	mux.HandleFunc("PATCH /api/applications/{appId}/users/{globalId}/status", ok)
	mux.HandleFunc("POST /oauth/token", ok)
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) { MethodNotAllowed(w, r, "POST") })
	mux.HandleFunc("GET /oauth/authorize", ok)
	h := ErrorPages(mux, nil)
	tests := []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/api/applications/app_x/users", 200, "ok", ""},
		{"GET", "/api/applications/app_x/users/AB1234", 404,
			`{"error":"not_found","error_description":"no such route: GET /api/applications/app_x/users/AB1234"}`, ""},
		{"GET", "/api/applications/app_x", 404,
			`{"error":"not_found","error_description":"no such route: GET /api/applications/app_x"}`, ""},
		{"PATCH", "/api/applications/app_x/users/AB1234/status/", 404,
			`{"error":"not_found","error_description":"no such route: PATCH /api/applications/app_x/users/AB1234/status/"}`, ""},
		{"POST", "/oauth/tokens", 404, `{"error":"not_found","error_description":"no such route: POST /oauth/tokens"}`, ""},
		{"POST", "/oauth/token/", 404, `{"error":"not_found","error_description":"no such route: POST /oauth/token/"}`, ""},
		// Unchanged: the portal and other API routes, and the sign-in pages under /oauth/.
		{"GET", "/api/nothing", 404, `{"error":"not_found","message":"no such route: GET /api/nothing"}`, ""},
		{"GET", "/api/applicationsx", 404, `{"error":"not_found","message":"no such route: GET /api/applicationsx"}`, ""},
		{"PUT", "/oauth/authorize", 405, `{"error":"method_not_allowed","message":"method PUT not allowed; use GET, HEAD"}`, "GET, HEAD"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
			t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.body)
		}
		if rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, rec.Header().Get("Allow"), tt.allow)
		}
		if tt.status >= 400 && rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tt.method, tt.path, rec.Header().Get("Cache-Control"))
		}
	}
}
