package server

import "testing"

// An upper-case host in LOGINSIGN_BASE_URL became an upper-case relying party id, which
// browsers refuse for every passkey, and an issuer clients compare byte for byte.
func TestTheBaseURLIsKeptAsBrowsersWriteTheOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Login.Example.COM":  "https://login.example.com",
		"HTTPS://login.example.com/": "https://login.example.com",
		"http://LOCALHOST:8080":      "http://localhost:8080",
		"https://login.example.com":  "https://login.example.com",
	} {
		c, err := loadConfig([]string{"--base-url", in, "--dev=true"}, env(nil))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.BaseURL != want {
			t.Errorf("%s: BaseURL = %q, want %q", in, c.BaseURL, want)
		}
	}
	for _, in := range []string{"https://user@login.example.com", "https://login.example.com#x", "https://login.example.com?"} {
		if _, err := loadConfig([]string{"--base-url", in}, env(nil)); err == nil {
			t.Errorf("%s: accepted, want an error naming LOGINSIGN_BASE_URL", in)
		}
	}
}
