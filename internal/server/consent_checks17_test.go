package server

import (
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/portal"
)

// TestTheConsentPageShowsNoDevelopersImageAndOnlyAWebsiteOfItsSite17: the consent page is
// shown to a signed-in person before they agree to anything. It loaded the application's
// icon from the URL its developer chose, so the developer's server learned, from the image
// request, that this browser's person has a LoginSign session and was looking at the
// application's consent page, with their IP address, the time and their browser, also when
// they then closed the page. It also showed the application's website host under its name as
// LoginSign's text, though nobody checks that the website is the developer's: "google.com"
// vouched for an app returning people to evil.example. Now the page shows the app's initial,
// its CSP allows images only from LoginSign and data: URIs, and it shows the website only when
// it is on the site (registrable domain) the request returns the person to.
func TestTheConsentPageShowsNoDevelopersImageAndOnlyAWebsiteOfItsSite17(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	consent := func(t *testing.T, website, redirect string) page {
		t.Helper()
		app, err := e.createAppAs("dev@example.com", portal.ApplicationInput{Name: "notes", RedirectURIs: []string{redirect},
			Website: website, IconURL: "https://tracker.example.net/pixel.png"})
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
		return p
	}

	p := consent(t, "https://google.com/", "https://evil.example/cb")
	if strings.Contains(p.Body, "tracker.example.net") || strings.Contains(p.Body, "<img") {
		t.Errorf("the consent page loads the developer's icon:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `<span class="app-icon" aria-hidden="true">N</span>`) {
		t.Errorf("the consent page does not show the app's initial")
	}
	img := regexp.MustCompile(`img-src ([^;]*)`).FindStringSubmatch(p.Header.Get("Content-Security-Policy"))
	if img == nil || strings.TrimSpace(img[1]) != "'self' data:" {
		t.Errorf("consent page CSP %q: want img-src 'self' data:", p.Header.Get("Content-Security-Policy"))
	}
	if strings.Contains(p.Body, "google.com") {
		t.Errorf("the consent page shows a website on another site than the redirect URI's as the app's")
	}

	p = consent(t, "https://www.notes.example.org/about", "https://app.notes.example.org/cb")
	if want := `<p class="note">www.notes.example.org</p>`; !strings.Contains(p.Body, want) {
		t.Errorf("the consent page does not show a website of the redirect URI's site as %q", want)
	}
}
