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

func TestProxiesClientIP(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("10.0.0.0/8, 192.168.1.10, fd00::/8", "")
	if err != nil {
		t.Fatal(err)
	}
	pf, err := httpx.ParseProxies("10.0.0.0/8, 192.168.1.10, fd00::/8", "Forwarded")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, peer, xff, forwarded, want string
		proxies                          *httpx.Proxies
	}{
		{"no proxy", "203.0.113.5:4000", "", "", "203.0.113.5", nil},
		{"untrusted peer spoofing X-Forwarded-For", "203.0.113.5:4000", "198.51.100.1", "", "203.0.113.5", nil},
		{"untrusted peer spoofing Forwarded", "203.0.113.5:4000", "", "for=198.51.100.1", "203.0.113.5", nil},
		{"trusted proxy", "10.1.2.3:4000", "198.51.100.1", "", "198.51.100.1", nil},
		{"trusted single address", "192.168.1.10:4000", "198.51.100.1", "", "198.51.100.1", nil},
		{"client-supplied hop before the proxy's", "10.1.2.3:4000", "6.6.6.6, 198.51.100.1", "", "198.51.100.1", nil},
		{"chain of trusted proxies", "10.1.2.3:4000", "198.51.100.1, 10.9.9.9", "", "198.51.100.1", nil},
		{"garbage hop stops the walk", "10.1.2.3:4000", "198.51.100.1, not-an-ip", "", "10.1.2.3", nil},
		// A proxy appends to its own header and passes the client's copy of the other through:
		// only the configured one is read.
		{"a client's Forwarded through an X-Forwarded-For proxy", "10.1.2.3:4000", "203.0.113.5", "for=1.2.3.4", "203.0.113.5", nil},
		{"Forwarded proxies", "10.1.2.3:4000", "", `for=192.0.2.60;proto=https, for="[2001:db8::1]:443"`, "2001:db8::1", &pf},
		{"a client's X-Forwarded-For through a Forwarded proxy", "10.1.2.3:4000", "1.2.3.4", "for=203.0.113.5", "203.0.113.5", &pf},
		{"IPv6 trusted peer", "[fd00::1]:4000", "198.51.100.7", "", "198.51.100.7", nil},
		{"only proxies in the chain", "10.1.2.3:4000", "10.0.0.9", "", "10.0.0.9", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.forwarded != "" {
				r.Header.Set("Forwarded", tt.forwarded)
			}
			proxies := p
			if tt.proxies != nil {
				proxies = *tt.proxies
			}
			if got := proxies.ClientIP(r); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0.1/8/2"} {
		if _, err := httpx.ParseProxies(bad, ""); err == nil {
			t.Errorf("ParseProxies(%q) accepted it", bad)
		}
	}
	if _, err := httpx.ParseProxies("10.0.0.0/8", "x-real-ip"); err == nil {
		t.Error("ParseProxies accepted the header x-real-ip")
	}
}

// A forwarding header from a loopback or private peer that is not trusted is a reverse proxy
// missing from LOGINSIGN_TRUSTED_PROXIES: it is logged once, as a warning. A header from a
// public peer (a client's own) or a trusted proxy, and a request without one, log nothing.
func TestAnUntrustedProxyIsLoggedOnce(t *testing.T) {
	t.Parallel()
	p, err := httpx.ParseProxies("10.0.0.0/8", "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	h := httpx.ClientAddress(p, slog.New(slog.NewTextHandler(&buf, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	send := func(peer, xff string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		return strings.Count(buf.String(), "level=WARN")
	}
	for _, tt := range []struct{ peer, xff string }{
		{"203.0.113.5:4000", "198.51.100.1"}, // a client's own header
		{"10.1.2.3:4000", "198.51.100.1"},    // a trusted proxy
		{"127.0.0.1:4000", ""},               // no header
	} {
		if n := send(tt.peer, tt.xff); n != 0 {
			t.Fatalf("%s with %q: %d warnings, want none:\n%s", tt.peer, tt.xff, n, buf.String())
		}
	}
	if n := send("127.0.0.1:4000", "198.51.100.1"); n != 1 || !strings.Contains(buf.String(), "LOGINSIGN_TRUSTED_PROXIES") {
		t.Fatalf("an untrusted proxy on loopback: %d warnings:\n%s", n, buf.String())
	}
	if n := send("192.168.1.9:4000", "198.51.100.2"); n != 1 {
		t.Fatalf("a second untrusted proxy request: %d warnings, want still 1", n)
	}

	// A trusted proxy that writes Forwarded, with the default header setting.
	buf.Reset()
	h = httpx.ClientAddress(p, slog.New(slog.NewTextHandler(&buf, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("Forwarded", "for=198.51.100.1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.Contains(buf.String(), "LOGINSIGN_FORWARDED_HEADER=forwarded") {
		t.Fatalf("a trusted proxy writing the other header: %q", buf.String())
	}
}
