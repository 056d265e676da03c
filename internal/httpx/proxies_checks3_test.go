package httpx_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/httpx"
)

func clientIP(t *testing.T, p httpx.Proxies, peer string, headers map[string][]string) string {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = peer
	for k, vs := range headers {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return p.ClientIP(r)
}

// A single IPv4-mapped proxy address trusts that IPv4 address and nothing else: not a range of
// IPv6 addresses such as ::1.
func TestAMappedProxyAddressTrustsOnlyThatAddress(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("::ffff:10.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	xff := map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}
	for _, tt := range []struct{ peer, want string }{
		{"10.0.0.1:4000", "198.51.100.1"},
		{"[::ffff:10.0.0.1]:4000", "198.51.100.1"},
		{"10.0.0.2:4000", "10.0.0.2"},
		{"[::1]:4000", "::1"},
		{"[::a00:1]:4000", "::a00:1"},
	} {
		if got := clientIP(t, p, tt.peer, xff); got != tt.want {
			t.Errorf("proxies ::ffff:10.0.0.1, peer %s: ClientIP = %q, want %q", tt.peer, got, tt.want)
		}
	}
}

// Every X-Forwarded-For line counts, in order: a client's own line comes first and the proxy's
// appended line last, so the client cannot name its address by sending a header of its own.
func TestEveryForwardedForLineIsRead(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("10.0.0.0/8", "")
	if err != nil {
		t.Fatal(err)
	}
	got := clientIP(t, p, "10.1.2.3:4000", map[string][]string{"X-Forwarded-For": {"6.6.6.6", "198.51.100.1"}})
	if got != "198.51.100.1" {
		t.Fatalf("X-Forwarded-For lines 6.6.6.6 then 198.51.100.1 from a trusted proxy: ClientIP = %q, want 198.51.100.1", got)
	}
	pf, err := httpx.ParseProxies("10.0.0.0/8", "forwarded")
	if err != nil {
		t.Fatal(err)
	}
	got = clientIP(t, pf, "10.1.2.3:4000", map[string][]string{"Forwarded": {"for=6.6.6.6", "for=198.51.100.1"}})
	if got != "198.51.100.1" {
		t.Fatalf("Forwarded lines: ClientIP = %q, want 198.51.100.1", got)
	}
}

// Forwarded's parameter names are case-insensitive (RFC 7239 §4) and a bracketed IPv6 hop
// without a port is an address, in either header.
func TestForwardedHopsInTheirOtherSpellings(t *testing.T) {
	t.Parallel()
	pf, err := httpx.ParseProxies("10.0.0.0/8", "forwarded")
	if err != nil {
		t.Fatal(err)
	}
	p, err := httpx.ParseProxies("10.0.0.0/8", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		p       httpx.Proxies
		headers map[string][]string
		want    string
	}{
		{"For= in capitals", pf, map[string][]string{"Forwarded": {"For=198.51.100.1;Proto=https"}}, "198.51.100.1"},
		{"FOR= in a chain", pf, map[string][]string{"Forwarded": {"for=6.6.6.6, FOR=198.51.100.2"}}, "198.51.100.2"},
		{"a bracketed IPv6 for= without a port", pf, map[string][]string{"Forwarded": {`for="[2001:db8::7]"`}}, "2001:db8::7"},
		{"a bracketed IPv6 X-Forwarded-For hop", p, map[string][]string{"X-Forwarded-For": {"[2001:db8::8]"}}, "2001:db8::8"},
	} {
		if got := clientIP(t, tt.p, "10.1.2.3:4000", tt.headers); got != tt.want {
			t.Errorf("%s: ClientIP = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A forwarding header from a private-range peer that is not trusted is a reverse proxy missing
// from the settings, as from loopback: it is logged.
func TestAnUntrustedPrivateProxyIsLogged(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("10.0.0.0/8", "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	h := httpx.ClientAddress(p, slog.New(slog.NewTextHandler(&buf, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.168.1.9:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.2")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "LOGINSIGN_TRUSTED_PROXIES") {
		t.Fatalf("a forwarding header from the untrusted private peer 192.168.1.9: log %q, want a warning naming LOGINSIGN_TRUSTED_PROXIES", buf.String())
	}
}

// A trusted proxy that sends only X-Forwarded-For when the settings say Forwarded is logged.
func TestATrustedProxyWritingXForwardedForWhenForwardedIsSetIsLogged(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("10.0.0.0/8", "forwarded")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	h := httpx.ClientAddress(p, slog.New(slog.NewTextHandler(&buf, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.2")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "LOGINSIGN_FORWARDED_HEADER is forwarded") {
		t.Fatalf("a trusted proxy sending only X-Forwarded-For with the forwarded setting: log %q, want a warning", buf.String())
	}
}

// Behind ClientAddress, httpx.ClientIP is the client the trusted proxy forwarded, not the proxy.
func TestClientIPReadsTheAddressClientAddressResolved(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("10.0.0.0/8", "")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := httpx.ClientAddress(p, slog.New(slog.DiscardHandler), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = httpx.ClientIP(r)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.3")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "198.51.100.3" {
		t.Fatalf("httpx.ClientIP behind ClientAddress = %q, want the forwarded client 198.51.100.3", got)
	}
}
