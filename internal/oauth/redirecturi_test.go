package oauth_test

import (
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

func TestCheckRedirectURI(t *testing.T) {
	tests := []struct {
		uri  string
		want string // "" = accepted, else part of the error
	}{
		{"https://app.example.com/callback", ""},
		{"http://localhost:3000/cb", ""},
		{"http://127.0.0.1/cb", ""},
		{"http://[::1]:8080/cb", ""},
		{"com.example.app:/oauth2redirect", ""},
		{"http://app.example.com/cb", "http is allowed only"},
		{"https://app.example.com/cb#x", "fragment"},
		{"https://*.example.com/cb", "wildcard"},
		{"https://user:pw@app.example.com/cb", "user information"},
		{"/relative", "absolute"},
		{"javascript:alert(1)", "not allowed"},
		{"myapp:/cb", "private-use"},
		{"", "1 to 2048"},
		{"https://App.Example.com:8443/cb", ""},
		{"https://192.0.2.7/cb", ""},
		{"https://[2001:db8::1]/cb", ""},
		{"https://a.com;sandbox/cb", "DNS name"},
		{"https://a.com,b.com/cb", "DNS name"},
		{"https://a'b.com/cb", "DNS name"},
		{"https://bücher.example/cb", "DNS name"},
		{"https://-a.example/cb", "DNS name"},
	}
	for _, tt := range tests {
		err := oauth.CheckRedirectURI(tt.uri)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckRedirectURI(%q) = %v, want %q", tt.uri, err, tt.want)
		}
	}
}
