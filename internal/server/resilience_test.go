package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store/storetest"
)

// Redis down: every API route answers 503 with Retry-After in its documented error shape
// (the app-backend API, which needs only SQL, keeps answering: its rate limit fails open);
// pages show an error page; /readyz names the check without infrastructure details; once
// Redis is back everything works without a restart.
func TestRedisOutageAnswers503AndRecovers(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			r := startRedis(t)
			e := newOAuthEnv(t, dbURL, withEnv("REDIS_URL", r.URL()))
			b := e.browser()
			code, verifier := e.authorizeCode(b, defaultTestEmail) // signs b in (session cookie)
			_, tok, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
			access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
			basic := func(req *http.Request) { req.SetBasicAuth(url.QueryEscape(e.app.ID), url.QueryEscape(e.app.Secret)) }
			bearer := func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+access) }
			form := func(v url.Values) func() *http.Request {
				return func() *http.Request {
					req, _ := http.NewRequest(http.MethodPost, "", strings.NewReader(v.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return req
				}
			}
			get := func() *http.Request { req, _ := http.NewRequest(http.MethodGet, "", nil); return req }
			gql := func() *http.Request {
				req, _ := http.NewRequest(http.MethodPost, "", strings.NewReader(`{"query":"{ application(id: \"app_x\") { id } }"}`))
				req.Header.Set("Content-Type", "application/json")
				return req
			}
			routes := []struct {
				path   string
				req    func() *http.Request
				auth   func(*http.Request)
				cookie bool
				shape  string // error_description, message, graphql, page
			}{
				{"/oauth/token", form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), basic, false, "error_description"},
				{"/oauth/introspect", form(url.Values{"token": {access}}), basic, false, "error_description"},
				{"/oauth/revoke", form(url.Values{"token": {access}}), basic, false, "error_description"},
				{"/oauth/par", form(url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback}}), basic, false, "error_description"},
				{"/api/user", get, bearer, false, "error_description"},
				{"/api/user/licenses/subscriptions", get, bearer, false, "error_description"},
				{"/api/developer/applications", get, nil, true, "message"},
				{"/graphql", gql, nil, true, "graphql"},
				{"/dashboard", get, nil, true, "page"},
				{"/oauth/authorize?" + url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "response_type": {"code"},
					"scope": {"openid"}, "state": {"s"}, "code_challenge": {strings.Repeat("a", 42) + "A"}, "code_challenge_method": {"S256"}}.Encode(), get, nil, false, "page"},
			}
			do := func(path string, mk func() *http.Request, auth func(*http.Request), cookie bool) (*http.Response, []byte) {
				t.Helper()
				req := mk()
				req.URL, _ = url.Parse(e.base + path)
				if auth != nil {
					auth(req)
				}
				client := http.DefaultClient
				if cookie {
					client = b.Client
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp, body
			}

			r.Stop()
			for _, rt := range routes {
				resp, body := do(rt.path, rt.req, rt.auth, rt.cookie)
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s with Redis down: %d Retry-After=%q %s; want 503 with Retry-After", rt.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
					continue
				}
				var m map[string]any
				json.Unmarshal(body, &m)
				switch rt.shape {
				case "error_description":
					if m["error"] != "temporarily_unavailable" || m["error_description"] == nil {
						t.Errorf("%s: body %s, want {error: temporarily_unavailable, error_description}", rt.path, body)
					}
				case "message":
					if m["error"] != "temporarily_unavailable" || m["message"] == nil {
						t.Errorf("%s: body %s, want {error: temporarily_unavailable, message}", rt.path, body)
					}
				case "graphql":
					errs, _ := m["errors"].([]any)
					if len(errs) != 1 || errs[0].(map[string]any)["extensions"].(map[string]any)["code"] != "temporarily_unavailable" {
						t.Errorf("%s: body %s, want a GraphQL error with extensions.code temporarily_unavailable", rt.path, body)
					}
				case "page":
					if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "temporarily unavailable") {
						t.Errorf("%s: %s %s, want an HTML error page", rt.path, resp.Header.Get("Content-Type"), body)
					}
				}
				if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "dial") {
					t.Errorf("%s leaks infrastructure details: %s", rt.path, body)
				}
			}
			// The app-backend API fails open (SQL only; 256-bit client secrets).
			resp, body := do("/api/applications/"+e.app.ID+"/users", get, basic, false)
			if resp.StatusCode != 200 {
				t.Errorf("app-backend with Redis down: %d %s, want 200 (rate limit fails open)", resp.StatusCode, body)
			}
			resp, body = do("/readyz", get, nil, false)
			if resp.StatusCode != 503 || !strings.Contains(string(body), `"redis":"unavailable"`) || strings.Contains(string(body), "127.0.0.1") {
				t.Errorf("/readyz with Redis down: %d %s", resp.StatusCode, body)
			}

			// Back: no restart of LoginSign. Redis lost its data (no persistence): the refresh
			// token (SQL) gets a new access token that works.
			r.Start()
			// go-redis retries dialling in the background about once a second.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				resp, body = do("/readyz", get, nil, false)
				if resp.StatusCode == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz after Redis is back: %d %s", resp.StatusCode, body)
				}
			}
			st, next, err := e.refreshOnce(refresh, "")
			if err != nil || st != 200 {
				t.Fatalf("refresh after Redis is back: %d %v %v", st, next, err)
			}
			if status, _, _ := e.apiUser(next["access_token"].(string)); status != 200 {
				t.Fatalf("/api/user after Redis is back: %d", status)
			}
		})
	}
}

// Shutdown: /readyz turns 503 at once; during the drain requests are still served (with
// Connection: close, so keep-alive clients reconnect elsewhere); an in-flight request
// finishes; serve returns nil. A shutdown that hits its timeout returns nil too (exit 0).
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout string
		finish  bool // the in-flight request sends the rest of its body
	}{
		{"drains", "10s", true},
		{"times out", "300ms", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			e := env(map[string]string{
				"LOGINSIGN_ADDR": addr, "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"),
				"LOGINSIGN_DATA_DIR": t.TempDir(), "LOGINSIGN_LOG_LEVEL": "error",
				"LOGINSIGN_SHUTDOWN_DRAIN": "700ms", "LOGINSIGN_SHUTDOWN_TIMEOUT": tc.timeout,
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, []string{"serve"}, e, io.Discard, io.Discard) }()
			base := "http://" + addr
			waitReady(t, base)

			// A request in flight: headers sent, half of its body.
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			body := "grant_type=refresh_token&refresh_token=lsrt_x"
			fmt.Fprintf(conn, "POST /oauth/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
			// A keep-alive client with an idle connection.
			keep := &http.Client{Transport: &http.Transport{}}
			if resp, err := keep.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("healthz: %v", err)
			} else {
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)

			cancel()
			time.Sleep(100 * time.Millisecond)
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				t.Fatalf("/readyz during the drain: %v", err)
			}
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || !strings.Contains(string(rb), "shutting_down") {
				t.Fatalf("/readyz during the drain: %d %s", resp.StatusCode, rb)
			}
			if resp, err := keep.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 || !resp.Close {
				t.Fatalf("keep-alive request during the drain: %v %v; want 200 with Connection: close", err, resp)
			} else {
				resp.Body.Close()
			}
			if tc.finish {
				io.WriteString(conn, body[10:])
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("in-flight request during shutdown: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 { // no client credentials: the request was answered
					t.Fatalf("in-flight request: %d, want its answer (401)", resp.StatusCode)
				}
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve returned %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop")
			}
		})
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With the embedded store, a session outlives a restart of LoginSign: it is in
// LOGINSIGN_DATA_DIR/kv.aof, and nothing listens on a port for it.
func TestEmbeddedSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(nil, env(map[string]string{
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "db.sqlite"), "LOGINSIGN_DATA_DIR": dir,
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := newServer(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.kv.Embedded {
		t.Fatal("REDIS_URL unset did not start the embedded store")
	}
	u, _, err := s.identity.EnsureUser(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.identity.Sessions.Create(ctx, u.ID, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = newServer(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.identity.Sessions.Lookup(ctx, raw)
	if err != nil || got.UserID != u.ID {
		t.Fatalf("session after restart: %+v, %v", got, err)
	}
}
