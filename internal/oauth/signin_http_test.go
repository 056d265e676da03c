package oauth_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/httpx"
	"loginsign/internal/oauth"
	authpages "loginsign/internal/web/auth"
)

// TestSignInMailsPerClientAddressCountAnIPv6Slash64Once: POST /login behind the client-address
// middleware, as the server mounts it, counts Limits.LoginPerIP per client address, and every
// address of one IPv6 /64 (the least one subscriber is handed) is one client, whether it is
// the TCP peer or forwarded by a trusted proxy. Another /64 and IPv4 clients keep their own
// budgets.
func TestSignInMailsPerClientAddressCountAnIPv6Slash64Once(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		proxies, err := httpx.ParseProxies("10.0.0.0/8", "")
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		pages := &authpages.Pages{OAuth: e.svc, Identity: e.svc.Identity, Log: slog.New(slog.DiscardHandler)}
		pages.Register(mux)
		h := httpx.ClientAddress(proxies, slog.New(slog.DiscardHandler), mux)

		// login posts the sign-in form for email from client: as the TCP peer when direct,
		// else through the trusted proxy 10.1.2.3 (X-Forwarded-For).
		login := func(client string, direct bool, email string) *http.Response {
			r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"email": {email}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if direct {
				r.RemoteAddr = "[" + client + "]:4000"
			} else {
				r.RemoteAddr = "10.1.2.3:4000"
				r.Header.Set("X-Forwarded-For", client)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Result()
		}

		n := e.svc.Config.Limits.LoginPerIP.N
		for i := range n {
			client := fmt.Sprintf("2001:db8:7:1:%x:%x:%x:%x", i*7919%0x10000, i, 0xffff-i, i+1)
			if resp := login(client, i%2 == 0, fmt.Sprintf("client-%d@example.com", i)); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("mail %d from %s = %d, want 303", i+1, client, resp.StatusCode)
			}
		}
		if box.count() != n {
			t.Fatalf("%d mails sent, want %d", box.count(), n)
		}
		for _, direct := range []bool{true, false} {
			resp := login("2001:db8:7:1:ffff:ffff:ffff:fffe", direct, fmt.Sprintf("client-over-%v@example.com", direct))
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("mail %d from a new address of the same /64 (direct %v) = %d, Retry-After %q; want 429 with Retry-After",
					n+1, direct, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		if box.count() != n {
			t.Fatalf("%d mails sent, want %d: mails past the limit went out", box.count(), n)
		}
		for _, client := range []string{"2001:db8:7:2::1", "192.0.2.77"} {
			if resp := login(client, false, "client-elsewhere-"+strings.ReplaceAll(client, ":", "-")+"@example.com"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("mail from %s, another client = %d, want 303", client, resp.StatusCode)
			}
		}
	})
}
