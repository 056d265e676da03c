package server

import (
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/portal"
)

// TestConsentPageShowsOnlyTheHostOfTheWebsite: the consent page shows the application's
// website under its name, as LoginSign's text; the developer writes the URL's path, query and
// fragment freely (up to 2,000 characters), so the page shows its host only. Before, the whole
// URL was shown: "https://notes.example.com/Your-LoginSign-account-is-locked-…" on the page
// where an application name may not even hold a link.
func TestConsentPageShowsOnlyTheHostOfTheWebsite(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	const redirect = "https://notes.example.com/cb"
	website := "https://notes.example.com:8443/Your-LoginSign-account-is-locked.-Call-+1-555-0100-now?ref=LoginSign-Security#Allow-to-keep-it"
	app, err := e.createAppAs("dev@example.com", portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{redirect}, Website: website})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.get(e.config(app, redirect).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, defaultTestEmail)
	}
	if p.StatusCode != 200 || !strings.Contains(p.Body, `value="allow"`) {
		t.Fatalf("consent page: %d\n%s", p.StatusCode, p.Body)
	}
	if want := `<p class="note">notes.example.com:8443</p>`; !strings.Contains(p.Body, want) {
		t.Errorf("consent page does not show the website as %q", want)
	}
	for _, s := range []string{"account-is-locked", "555-0100", "LoginSign-Security", "Allow-to-keep-it"} {
		if strings.Contains(p.Body, s) {
			t.Errorf("consent page shows %q from the website's URL", s)
		}
	}
}
