package oauth_test

import (
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// TestRedirectURIsHoldNoHiddenTextAndARealPort: url.Parse takes any run of digits as a port
// and lets spaces, controls and format characters through in the path; a redirect URI is
// compared exactly and shown on consent pages, so none of that is registered.
func TestRedirectURIsHoldNoHiddenTextAndARealPort(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, uri string
		want      string // "" = accepted, else part of the error
	}{
		{"port past 65535", "https://app.example.com:99999/cb", "port"},
		{"port 0", "https://app.example.com:0/cb", "port"},
		{"port with a leading zero", "https://app.example.com:0443/cb", "port"},
		{"loopback port past 65535", "http://127.0.0.1:70000/cb", "port"},
		{"a space in the path", "https://app.example.com/ x", "spaces"},
		{"a no-break space in the path", "https://app.example.com/a\u00a0b", "spaces"},
		{"a tab in the path", "https://app.example.com/a\tb", "spaces"},
		{"a right-to-left override in the path", "https://app.example.com/cb\u202egnp.x", "invisible"},
		{"a zero-width space in the host", "https://app\u200b.example.com/cb", "invisible"},
		{"a format character in a private-use URI", "com.example.app:/cb\u2066", "invisible"},
		{"port 1", "https://app.example.com:1/cb", ""},
		{"port 65535", "https://app.example.com:65535/cb", ""},
		{"loopback with a port", "http://127.0.0.1:8080/cb", ""},
		{"an encoded space", "https://app.example.com/a%20b", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := oauth.CheckRedirectURI(tt.uri)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("CheckRedirectURI(%q) = %v, want %q", tt.uri, err, tt.want)
			}
		})
	}
}

// A loopback redirect URI matches on any port (RFC 8252 §7.3), but only a port that exists.
func TestLoopbackRedirectPortsAreReal(t *testing.T) {
	t.Parallel()
	reg := []string{"http://127.0.0.1/cb"}
	if _, ok := oauth.MatchRedirectURI(reg, "http://127.0.0.1:8765/cb"); !ok {
		t.Error("a loopback port was refused")
	}
	for _, port := range []string{"99999", "0", "065535"} {
		if _, ok := oauth.MatchRedirectURI(reg, "http://127.0.0.1:"+port+"/cb"); ok {
			t.Errorf("port %s matched", port)
		}
	}
}
