package rest

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, want string
		err          error
	}{
		{"Bearer lsat_abc-DEF_123", "lsat_abc-DEF_123", nil},
		{"bearer lsat_x", "lsat_x", nil},
		{"Bearer  lsat_x", "lsat_x", nil},
		{"Bearer", "", errMalformedBearer},
		{"Bearer ", "", errMalformedBearer},
		{"Basic abc", "", errNoBearer},
		{"Bearer a b", "", errMalformedBearer},
		{"Bearer a\x00", "", errMalformedBearer},
		{"Bearer " + strings.Repeat("a", 513), "", oauth.ErrInvalidToken},
		{"", "", errNoBearer},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", tt.header)
		if got, err := bearerToken(r); got != tt.want || err != tt.err {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, got, err, tt.want, tt.err)
		}
	}
}

func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer lsat_abc")
	f.Add("bearer   x=")
	f.Add("Bearer a b")
	f.Add("Basic abc")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{header}
		tok, err := bearerToken(r)
		if err != nil {
			return
		}
		if len(tok) > 512 || strings.ContainsAny(tok, " \t\r\n\",") {
			t.Fatalf("accepted token %q", tok)
		}
		if !strings.HasSuffix(header, tok) {
			t.Fatalf("token %q is not the header's credentials", tok)
		}
	})
}

// The Bearer routes answer per RFC 6750 §3.1 before any token is looked up: without
// credentials (no Authorization header, or another scheme) 401 with the bare challenge and no
// error code in it; a malformed Bearer header (or two Authorization headers) 400
// invalid_request with the error in the challenge; a well-formed token longer than any
// LoginSign issues 401 invalid_token. Always no-store.
func TestBearerChallenges(t *testing.T) {
	t.Parallel()
	api := &API{Log: slog.New(slog.DiscardHandler)} // no OAuth service: no case may reach it
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/user", api.User)
	mux.Handle("GET /protected", api.Bearer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the handler behind Bearer ran for %q", r.Header.Values("Authorization"))
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	const bare = `Bearer realm="loginsign"`
	malformed := bare + `, error="invalid_request", error_description="the Authorization header must be Bearer and one access token (RFC 6750 section 2.1)"`
	for _, tt := range []struct {
		name      string
		auth      []string
		status    int
		code      string
		challenge string // exactly, or its prefix when it ends in ", "
	}{
		{"no Authorization header", nil, 401, "invalid_token", bare},
		{"an empty Authorization header", []string{""}, 401, "invalid_token", bare},
		{"Basic", []string{"Basic YTpi"}, 401, "invalid_token", bare},
		{"a scheme that starts like Bearer", []string{"Bearerx abc"}, 401, "invalid_token", bare},
		{"Bearer alone", []string{"Bearer"}, 400, "invalid_request", malformed},
		{"Bearer and spaces", []string{"Bearer    "}, 400, "invalid_request", malformed},
		{"two words", []string{"Bearer a b"}, 400, "invalid_request", malformed},
		{"not a b64token", []string{"Bearer a@b"}, 400, "invalid_request", malformed},
		{"a quote", []string{`Bearer a"b`}, 400, "invalid_request", malformed},
		{"two Authorization headers", []string{"Bearer a", "Bearer b"}, 400, "invalid_request", malformed},
		{"longer than any token", []string{"bearer " + strings.Repeat("a", maxBearer+1)}, 401, "invalid_token", bare + `, error="invalid_token", `},
	} {
		for _, path := range []string{"/api/user", "/protected"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				for _, v := range tt.auth {
					req.Header.Add("Authorization", v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body map[string]string
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatalf("%d, body not JSON: %v", resp.StatusCode, err)
				}
				if resp.StatusCode != tt.status || body["error"] != tt.code || body["error_description"] == "" {
					t.Fatalf("%d %v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
				}
				wa := resp.Header.Values("WWW-Authenticate")
				exact := !strings.HasSuffix(tt.challenge, ", ")
				if len(wa) != 1 || (exact && wa[0] != tt.challenge) || (!exact && !strings.HasPrefix(wa[0], tt.challenge+"error_description=")) {
					t.Fatalf("WWW-Authenticate %q, want %q", wa, tt.challenge)
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
			})
		}
	}
}
