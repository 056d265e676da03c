package oauth_test

import (
	"testing"

	"loginsign/internal/oauth"
)

// TestConsentWebsiteIsShownOnlyOnTheSiteOfTheRedirect: the consent page shows an application's
// website host only when it shares the registrable domain of the redirect URI the person
// returns to; nobody checks that a website is its developer's.
func TestConsentWebsiteIsShownOnlyOnTheSiteOfTheRedirect(t *testing.T) {
	for _, tc := range []struct{ website, redirect, want string }{
		{"https://www.notes.example.org/about", "https://app.notes.example.org/cb", "www.notes.example.org"},
		{"https://notes.example.com:8443/x", "https://notes.example.com/cb", "notes.example.com:8443"},
		{"https://NOTES.example.com/", "https://notes.example.com./cb", "NOTES.example.com"},
		{"https://google.com/", "https://evil.example/cb", ""},
		{"https://a.github.io/", "https://b.github.io/cb", ""}, // github.io is a public suffix
		{"https://acme.co.uk/", "https://evil.co.uk/cb", ""},
		{"https://acme.example/", "com.acme.app:/cb", ""},
		{"http://127.0.0.1:3000/", "http://127.0.0.1:8080/cb", "127.0.0.1:3000"},
		{"http://localhost/", "http://127.0.0.1/cb", ""},
		{"", "https://acme.example/cb", ""},
	} {
		if got := oauth.ConsentWebsite(tc.website, tc.redirect); got != tc.want {
			t.Errorf("ConsentWebsite(%q, %q) = %q, want %q", tc.website, tc.redirect, got, tc.want)
		}
	}
}
