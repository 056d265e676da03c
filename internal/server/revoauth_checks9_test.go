package server

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// createAppAs is portal.CreateApplication for the developer whose address is owner, with in
// as given (createAppOf fails the test on a refusal; these tests expect some).
func (e *oauthEnv) createAppAs(owner string, in portal.ApplicationInput) (testApp, error) {
	e.t.Helper()
	ctx := context.Background()
	u, _, err := e.srv.identity.EnsureUser(ctx, owner)
	if err != nil {
		e.t.Fatal(err)
	}
	created, err := e.srv.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()}), in)
	if err != nil {
		return testApp{}, err
	}
	return testApp{ID: created.Application.ID, Secret: created.ClientSecret, Redirects: in.RedirectURIs}, nil
}

// consentPageOf signs b in as email on app's authorization request for redirect and returns
// the consent page.
func (e *oauthEnv) consentPageOf(b *browser, app testApp, redirect, email string) page {
	e.t.Helper()
	p := b.get(e.config(app, redirect).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, email)
	}
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `value="allow"`) {
		e.t.Fatalf("not a consent page: %d %s\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
	}
	return p
}

// returnsTo is the host the consent page p says the answer goes to.
func returnsTo(p page) string {
	_, rest, _ := strings.Cut(p.Body, `id="returns-to"`)
	_, rest, _ = strings.Cut(rest, "<strong>")
	host, _, _ := strings.Cut(rest, "</strong>")
	return html.UnescapeString(host)
}

// A free developer account clones another developer's application: its name, its icon and
// its exact redirect URI. The consent page then shows the person nothing that tells the
// clone from the real application: "Your answer goes to app.example.test" is the one line
// the page offers as the tell (oauth.ConsentScreen.ReturnsTo), and the clone chooses it
// freely. The person allows, believing they connect the real app, and the clone's owner has a
// connection: the person in its user list and a relay address that forwards to their real
// inbox. (The code then goes to the real app, which cannot redeem it: that part holds.) An
// https redirect URI whose host another developer's application registered is refused.
func TestAnotherDevelopersRedirectURIIsNotRegisteredForACloneOfTheirApp(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		clone, err := e.createAppAs("mallory-clone@example.com", portal.ApplicationInput{Name: "Demo App",
			IconURL: "https://app.example.test/icon.png", RedirectURIs: []string{rpCallback}})
		if err == nil {
			b := e.browser()
			real := returnsTo(e.consentPageOf(b, e.app, rpCallback, defaultTestEmail))
			page := e.consentPageOf(b, clone, rpCallback, defaultTestEmail)
			fake := returnsTo(page)
			// The person allows and shares their address, as they would with the real app.
			b.consent(page, "allow", defaultTestEmail)
			_, users, _ := e.appAPI(http.MethodGet, "/api/applications/"+clone.ID+"/users", e.clientToken(clone), "")
			t.Fatalf("another developer registered %s, the redirect URI of Demo App, under the same name and icon; "+
				"the consent pages say the answer goes to %q (real) and %q (clone); after an allow, the clone's user list, "+
				"with no code redeemed, holds the person's address and Global ID: %v", rpCallback, real, fake,
				strings.Contains(users, defaultTestEmail) && strings.Contains(users, e.userByEmail(defaultTestEmail).GlobalID))
		}
		if apperr.As(err).Code != apperr.Invalid && apperr.As(err).Code != apperr.Conflict {
			t.Fatalf("registering another developer's redirect URI: %v, want invalid or conflict", err)
		}
	})
}

// An application's redirect URI on LoginSign's own origin makes its consent page say the
// answer goes to LoginSign itself, the tell the page offers (ReturnsTo) now pointing at the
// identity provider: an app named "Account check" reads as LoginSign's own page. LoginSign
// is never an application's client, so such a redirect URI is refused (the post-logout one
// too).
func TestARedirectURIOnLoginSignsOwnOriginIsRefused(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		own := e.base + "/dashboard"
		app, err := e.createAppAs("mallory-own@example.com", portal.ApplicationInput{Name: "Account check", RedirectURIs: []string{own}})
		if err == nil {
			got := returnsTo(e.consentPageOf(e.browser(), app, own, defaultTestEmail))
			t.Fatalf("redirect URI %s on LoginSign's own origin was registered; the consent page says the answer goes to %q", own, got)
		}
		if apperr.As(err).Code != apperr.Invalid {
			t.Fatalf("redirect URI on LoginSign's origin: %v, want invalid", err)
		}
		if _, err := e.createAppAs("mallory-own@example.com", portal.ApplicationInput{Name: "Account check",
			RedirectURIs: []string{"https://mallory.example/cb"}, PostLogoutRedirectURIs: []string{e.base + "/login"}}); apperr.As(err).Code != apperr.Invalid {
			t.Errorf("post-logout redirect URI on LoginSign's origin: %v, want invalid", err)
		}
	})
}

// The name LoginSign is reserved (checkName), but only as ASCII letters after lower-casing:
// the same word in fullwidth letters, mathematical bold, small capitals or with a dotless i
// reads as LoginSign on the sign-in and consent pages and in the sign-in mail's subject, and
// each is a single script, so the mixed-script check lets it through too. Each is refused,
// and an authorization request of such an app never shows it.
func TestApplicationNamesCannotSpellLoginSignInLookalikeLetters(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		for _, name := range []string{
			"\uff2c\uff4f\uff47\uff49\uff4e\uff33\uff49\uff47\uff4e Security",                            // ＬｏｇｉｎＳｉｇｎ
			"\U0001d40b\U0001d428\U0001d420\U0001d422\U0001d427\U0001d412\U0001d422\U0001d420\U0001d427", // 𝐋𝐨𝐠𝐢𝐧𝐒𝐢𝐠𝐧
			"\u029f\u1d0f\u0262\u026a\u0274\ua731\u026a\u0262\u0274",                                     // ʟᴏɢɪɴꜱɪɢɴ
			"LoginS\u0131gn Account Team",                                                                // dotless i
		} {
			app, err := e.createAppAs("mallory-name@example.com", portal.ApplicationInput{Name: name, RedirectURIs: []string{"https://mallory.example/cb"}})
			if err == nil {
				p := e.browser().get(e.config(app, "https://mallory.example/cb").AuthCodeURL("st"))
				t.Errorf("application name %q was accepted; the sign-in page of its authorization shows it: %v",
					name, strings.Contains(p.Body, html.EscapeString(name)))
				continue
			}
			if apperr.As(err).Code != apperr.Invalid {
				t.Errorf("name %q: %v, want invalid", name, err)
			}
		}
	})
}

// The embedded sign-in (GET /embed/login, used by the widget script's login page) builds the
// app's authorization request itself, from client_id, redirect_uri, scope, state and
// ui_locales only: a code_challenge (and its method) or a nonce the app passes are dropped.
// An app that signs people in through the widget therefore cannot bind its codes to a PKCE
// verifier (RFC 9700 §2.1.1: clients MUST use PKCE, or a nonce for OpenID Connect) and
// gets codes an attacker can inject. The embed carries them into the request it starts.
func TestTheEmbeddedSignInKeepsTheAppsPKCEChallengeAndNonce(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		q := url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "state": {"st-embed"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "nonce": {"n-embed"}}
		p := e.browser().get(e.base + "/embed/login?" + q.Encode())
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `action="/oauth/authorize"`) {
			t.Fatalf("GET /embed/login: %d\n%s", p.StatusCode, p.Body)
		}
		for k, v := range map[string]string{"code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n-embed"} {
			if !strings.Contains(p.Body, `name="`+k+`" value="`+v+`"`) {
				t.Errorf("the embedded sign-in's authorization request drops %s=%s", k, v)
			}
		}
	})
}

// Redirect URIs are matched exactly (RFC 9700 §2.1): every near miss of a registered one (case,
// trailing slash, empty query, fragment, user information, a percent-encoded letter, the
// default port, dot segments, a longer host, another loopback host or path) is the error
// page, never a redirect; only the port of a loopback URI may differ (RFC 8252 §7.3).
func TestNearMissRedirectURIsAreShownAnErrorPage(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := noFollowBrowser(e)
		authorize := func(redirect string) page {
			return b.get(e.base + "/oauth/authorize?" + url.Values{"client_id": {e.app.ID}, "redirect_uri": {redirect},
				"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}.Encode())
		}
		for _, redirect := range []string{
			"https://APP.example.test/callback", "https://app.example.test/callback/", "https://app.example.test/Callback",
			"https://app.example.test/callback?", "https://app.example.test/callback#x", "https://u@app.example.test/callback",
			"https://app.example.test/%63allback", "https://app.example.test:443/callback", "https://app.example.test/x/../callback",
			"https://app.example.test.mallory.example/callback", "http://app.example.test/callback",
			"http://127.0.0.1:8080/native/cb/", "http://127.0.0.1:8080/native/CB", "http://localhost:8080/native/cb",
			"http://[::1]:8080/native/cb", "http://127.0.0.2:8080/native/cb", "http://u@127.0.0.1:8080/native/cb",
			"http://127.0.0.1:0/native/cb", "http://127.0.0.1:8080/native/%63b", "http://127.0.0.1:8080/native/cb?x=1",
		} {
			p := authorize(redirect)
			if p.StatusCode != http.StatusBadRequest || p.Header.Get("Location") != "" {
				t.Errorf("redirect_uri %s: %d, Location %q, want the error page", redirect, p.StatusCode, p.Header.Get("Location"))
			}
		}
		if p := authorize("http://127.0.0.1:51234/native/cb"); p.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(p.Header.Get("Location"), "/login?") {
			t.Errorf("a loopback redirect URI on another port: %d %q, want the sign-in", p.StatusCode, p.Header.Get("Location"))
		}
	})
}
