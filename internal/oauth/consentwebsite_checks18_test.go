package oauth_test

import (
	"testing"

	"loginsign/internal/oauth"
)

// TestConsentWebsiteIgnoresTheHostOfANativeAppsScheme: a private-use scheme redirect URI
// ("com.evil.app://google.com/cb", which CheckRedirectURI accepts) returns the person to the
// app that claims the scheme, whatever host follows it; that host vouches for no website.
func TestConsentWebsiteIgnoresTheHostOfANativeAppsScheme(t *testing.T) {
	for _, tc := range []struct{ website, redirect, want string }{
		{"https://google.com/", "com.evil.app://google.com/cb", ""},
		{"https://www.google.com/", "com.evil.app://accounts.google.com/cb", ""},
		{"https://google.com/", "COM.EVIL.APP://google.com/cb", ""},
		{"https://notes.example.com/", "HTTPS://app.notes.example.com/cb", "notes.example.com"},
	} {
		if err := oauth.CheckRedirectURI(tc.redirect); err != nil {
			t.Fatalf("CheckRedirectURI(%q) = %v; the test needs a registrable URI", tc.redirect, err)
		}
		if got := oauth.ConsentWebsite(tc.website, tc.redirect); got != tc.want {
			t.Errorf("ConsentWebsite(%q, %q) = %q, want %q", tc.website, tc.redirect, got, tc.want)
		}
	}
}
