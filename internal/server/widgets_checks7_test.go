package server

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var continueRe = regexp.MustCompile(`href="(/oauth/authorize\?[^"]+)"`)

// TestEmbedsShowNothingToTheEmbedderAndLinkNobody: the embeds of a signed-in person are
// personal: never stored by a cache, never readable cross-origin (no CORS, even for the app's
// own origin), framable by the app's registered origins only, and carrying no Global ID. The
// "Continue as" link of an application the person never linked goes to the consent page in
// the top window (itself unframable), never straight back with a code, and an embed's scope
// cannot widen a linked application's grant without it. An embed of an application whose
// deletion has begun, or with a redirect URI that is not exactly registered, is an error page
// nobody may frame.
func TestEmbedsShowNothingToTheEmbedderAndLinkNobody(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		e.connect(b, e.app, defaultTestEmail)
		person := e.userByEmail(defaultTestEmail)
		const evilCB = "https://mallory.example/cb"
		mallory := e.createAppOf("mallory@example.com", "Mallory", evilCB)

		get := func(path, origin string) page {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Sec-Fetch-Dest", "iframe")
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return page{resp, string(body)}
		}
		login := "/embed/login?" + url.Values{"client_id": {mallory.ID}, "redirect_uri": {evilCB}, "state": {"s"}}.Encode()
		banner := "/embed/banner?client_id=" + mallory.ID
		for _, path := range []string{login, banner} {
			p := get(path, "https://mallory.example")
			_, ancestors, _ := strings.Cut(p.Header.Get("Content-Security-Policy"), "frame-ancestors ")
			if p.StatusCode != 200 || ancestors != "https://mallory.example" {
				t.Errorf("%s: %d, frame-ancestors %q, want 200 and the app's origin only", path, p.StatusCode, ancestors)
			}
			if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s of a signed-in person: Cache-Control %q, want no-store", path, cc)
			}
			for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"} {
				if v := p.Header.Get(h); v != "" {
					t.Errorf("%s: %s %q: the embedding page could read the person's embed", path, h, v)
				}
			}
			if strings.Contains(p.Body, person.GlobalID) {
				t.Errorf("%s shows the person's Global ID to an app they never linked", path)
			}
		}

		// The person never linked Mallory: the Continue link ends at the consent page.
		p := get(login, "https://mallory.example")
		m := continueRe.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no Continue link for the signed-in person:\n%s", p.Body)
		}
		next := b.get(e.base + html.UnescapeString(m[1]))
		if loc := next.Header.Get("Location"); strings.Contains(loc, "code=") {
			t.Errorf("the Continue link of an application the person never linked came straight back with a code: %s", loc)
		}
		if n := e.srv.db.AppConnection.Query().CountX(context.Background()); n != 1 {
			t.Errorf("%d connections after following the embed's link, want only the person's one to Demo App", n)
		}
		if next.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(next.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("the page the embed's link leads to may be framed: %d X-Frame-Options %q, CSP %q", next.StatusCode,
				next.Header.Get("X-Frame-Options"), next.Header.Get("Content-Security-Policy"))
		}

		// An app the person linked with fewer scopes cannot widen them through the embed's scope.
		narrow := e.createApp("Narrow", rpCallback) // Demo App's developer's: rpCallback's host is theirs
		e.connect(b, narrow, defaultTestEmail, "openid", "email")
		wide := get("/embed/login?"+url.Values{"client_id": {narrow.ID}, "redirect_uri": {rpCallback}, "scope": {"openid email profile"}}.Encode(), "https://app.example.test")
		if m := continueRe.FindStringSubmatch(wide.Body); m == nil {
			t.Errorf("no Continue link on the embed of a linked app:\n%s", wide.Body)
		} else if loc := b.get(e.base + html.UnescapeString(m[1])).Header.Get("Location"); strings.Contains(loc, "code=") {
			t.Errorf("the embed's scope widened a linked app's grant without the consent page: %s", loc)
		}

		// Redirect URIs that are not exactly registered are refused.
		for _, ru := range []string{"https://mallory.example/cb/", "https://MALLORY.example/cb", "https://mallory.example/cb?x=1",
			"https://mallory.example/cb#x", "https://mallory.example@evil.example/cb", "//evil.example/cb", "https://mallory.example/cb/../x"} {
			p := get("/embed/login?"+url.Values{"client_id": {mallory.ID}, "redirect_uri": {ru}}.Encode(), "https://mallory.example")
			if p.StatusCode != http.StatusBadRequest || p.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("embed login with redirect_uri %q: %d, X-Frame-Options %q, want 400 DENY", ru, p.StatusCode, p.Header.Get("X-Frame-Options"))
			}
		}

		e.srv.db.Application.UpdateOneID(mallory.ID).SetDeletingSince(time.Now()).ExecX(context.Background())
		for _, path := range []string{login, banner} {
			p := get(path, "https://mallory.example")
			if p.StatusCode != http.StatusNotFound || p.Header.Get("X-Frame-Options") != "DENY" || strings.Contains(p.Body, "Continue") {
				t.Errorf("%s of an application being deleted: %d, X-Frame-Options %q, want 404 DENY", path, p.StatusCode, p.Header.Get("X-Frame-Options"))
			}
		}
	})
}
