package oauth

import (
	"strings"
	"testing"
)

// longRedirectURIs is the healthcheck's worst case a free developer can make: 50 registered
// redirect URIs of 2,048 bytes on their own application, and a sent one of 2,048.
func longRedirectURIs() (registered []string, sent string) {
	registered = make([]string, 50)
	for i := range registered {
		registered[i] = "https://app" + string(rune('a'+i%26)) + ".example/" + strings.Repeat(string(rune('a'+i%26)), 2048-21)
	}
	return registered, "https://attacker.example/" + strings.Repeat("z", 2048-25)
}

// TestTheClosestRedirectURIIsStillTheNearest: the redirect-URI healthcheck names the closest
// registered URI to a member of the application's team by edit distance over the first
// closestCompared bytes (its work was the product of the two lengths in full: about 850 ms of
// CPU for longRedirectURIs, 30 a minute from each address; BenchmarkClosestRedirectURI). A
// typo in scheme, host or path is still found, and among URIs alike in what is compared, the
// one whose length is nearest.
func TestTheClosestRedirectURIIsStillTheNearest(t *testing.T) {
	t.Parallel()
	long := "https://app.example.com/callback?x=" + strings.Repeat("q", 400)
	if c := closest([]string{"https://a.example/x", long, long + "extra-extra-extra"}, "https://app.exampel.com/callback?x="+strings.Repeat("q", 401)); c != long {
		t.Errorf("closest = %.60q…, want the long callback", c)
	}
	if c := closest([]string{"https://a.example/x", "https://app.example.com/callback"}, "https://app.example.com/callbak"); c != "https://app.example.com/callback" {
		t.Errorf("closest = %q", c)
	}
}

// BenchmarkClosestRedirectURI is the healthcheck's closest-URI search in its worst case
// (longRedirectURIs).
func BenchmarkClosestRedirectURI(b *testing.B) {
	registered, sent := longRedirectURIs()
	for b.Loop() {
		closest(registered, sent)
	}
}
