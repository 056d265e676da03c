package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/ent"
)

// The owner's acts end what a holder of a stolen credential took before them: a rotated client
// secret ends the client_credentials tokens issued under it, a changed or removed address
// ends the sign-ins waiting on a link to it, and a removed redirect URI gets no code and no
// tokens.

// rotateSecretREST rotates app's client secret from the developer's browser (the documented
// REST route) and returns the new secret.
func rotateSecretREST(t *testing.T, dev *browser, appID string) string {
	t.Helper()
	status, out := dev.api(http.MethodPost, "/api/developer/applications/"+appID+"/secret/rotate", nil)
	if status != 200 || out["clientSecret"] == nil {
		t.Fatalf("rotating the client secret: %d %v", status, out)
	}
	return out["clientSecret"].(string)
}

// clientToken takes a client_credentials access token for app.
func (e *oauthEnv) clientToken(app testApp) string {
	e.t.Helper()
	st, body, _ := e.tokenRequest(app, url.Values{"grant_type": {"client_credentials"}})
	if st != 200 {
		e.t.Fatalf("client_credentials: %d %v", st, body)
	}
	return body["access_token"].(string)
}

// clientTokenWorks reports whether tok reads the app's users and introspects active for app
// (authenticated with app's current secret).
func (e *oauthEnv) clientTokenWorks(app testApp, tok string) (reads, active bool) {
	e.t.Helper()
	st, b, h := e.appAPI(http.MethodGet, "/api/applications/"+app.ID+"/users", tok, "")
	switch {
	case st == 200:
		reads = true
	case st == 401 && strings.Contains(b, `"invalid_token"`) && strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`):
	default:
		e.t.Fatalf("GET users with a client token: %d %s %v", st, b, h)
	}
	st, body, _ := e.postForm("/oauth/introspect", app, url.Values{"token": {tok}})
	if st != 200 {
		e.t.Fatalf("introspection: %d %v", st, body)
	}
	return reads, body["active"] == true
}

// Rotating the client secret (RFC 6749 §4.4: the token was the secret's) ends the
// client_credentials access tokens issued under the old secret at once, through the REST
// route and the GraphQL mutation alike: whoever held the old secret (a removed admin, a leaked
// configuration) keeps no access to the app's users. Tokens issued under the new secret work;
// the tokens a person's sign-in gave the application stay, being the person's.
func TestRotatingTheClientSecretEndsItsClientCredentialsTokens(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		person := e.connectWith(e.browser())
		dev := e.browser()
		dev.signInTo("dev@example.com")

		stolen := e.clientToken(e.app)
		if reads, active := e.clientTokenWorks(e.app, stolen); !reads || !active {
			t.Fatalf("before the rotation: reads %v, active %v", reads, active)
		}
		old := e.app
		e.app.Secret = rotateSecretREST(t, dev, e.app.ID)
		st, body, hdr := e.tokenRequest(old, url.Values{"grant_type": {"client_credentials"}})
		wantOAuthError(t, st, body, hdr, 401, "invalid_client")
		if reads, active := e.clientTokenWorks(e.app, stolen); reads || active {
			t.Fatalf("a token of the old secret after the owner rotated it: reads users %v, introspects active %v", reads, active)
		}
		if st, b, _ := e.appAPI(http.MethodPatch, "/api/applications/"+e.app.ID+"/users/1234567890/status", stolen, `{"status":"blocked"}`); st != 401 {
			t.Fatalf("PATCH status with a token of the old secret: %d %s", st, b)
		}

		current := e.clientToken(e.app)
		if reads, active := e.clientTokenWorks(e.app, current); !reads || !active {
			t.Fatalf("a token of the new secret: reads %v, active %v", reads, active)
		}
		data, errs := dev.graphql(`mutation($id: ID!) { resetClientSecret(input: {applicationId: $id}) { clientSecret } }`,
			map[string]any{"id": e.app.ID})
		if errs != nil {
			t.Fatal(errs)
		}
		e.app.Secret = data["resetClientSecret"].(map[string]any)["clientSecret"].(string)
		if reads, active := e.clientTokenWorks(e.app, current); reads || active {
			t.Fatalf("after the GraphQL reset: reads users %v, introspects active %v", reads, active)
		}
		if reads, active := e.clientTokenWorks(e.app, e.clientToken(e.app)); !reads || !active {
			t.Fatalf("a token of the newest secret: reads %v, active %v", reads, active)
		}

		if access, refresh := e.tokensWork(person); !access || !refresh {
			t.Fatalf("the person's own tokens after the rotations: access %v, refresh %v", access, refresh)
		}
	})
}

// approvedElsewhere asks, in a new browser, for a sign-in link to email, as anyone reading that
// mailbox can, and approves it from a second browser with the number the first one shows. It
// returns the first browser (not following redirects), whose waiting page says approved.
func (e *oauthEnv) approvedElsewhere(t *testing.T, email string) *browser {
	t.Helper()
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	asker, approver := e.browser(), e.browser()
	asker.CheckRedirect, approver.CheckRedirect = noFollow, noFollow
	if p := asker.post(e.base+"/login", url.Values{"email": {email}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login = %d", p.StatusCode)
	}
	link, _ := url.Parse(e.magicLink(email))
	m := matchRe.FindStringSubmatch(asker.get(e.base + "/login/sent").Body)
	if m == nil {
		t.Fatal("no number on the sent page")
	}
	if p := approver.post(e.base+"/login/magic/approve", url.Values{"token": {link.Query().Get("token")}, "match": {m[1]}}); p.StatusCode != 200 {
		t.Fatalf("approving = %d", p.StatusCode)
	}
	if p := asker.get(e.base + "/login/waiting"); !strings.Contains(p.Body, `"state":"approved"`) {
		t.Fatalf("waiting state after the approval: %s", p.Body)
	}
	return asker
}

// emailID is the GraphQL id of the signed-in person's address addr.
func emailID(t *testing.T, b *browser, addr string) string {
	t.Helper()
	data := b.gql(`{ viewer { emails(first: 10) { edges { node { id email } } } } }`, nil)
	for _, edge := range data["viewer"].(map[string]any)["emails"].(map[string]any)["edges"].([]any) {
		if n := edge.(map[string]any)["node"].(map[string]any); n["email"] == addr {
			return n["id"].(string)
		}
	}
	t.Fatalf("no address %s among the viewer's", addr)
	return ""
}

// wantLinkGone checks that p is the answer of a link that no longer signs in because the
// account's addresses changed or its person signed out everywhere else (410), and that b is
// signed in to nothing.
func wantLinkGone(t *testing.T, what string, b *browser, p page) {
	t.Helper()
	if p.StatusCode != http.StatusGone || !strings.Contains(p.Body, "this sign-in link is no longer valid") {
		t.Fatalf("%s = %d %q, want 410 as for a voided link:\n%s", what, p.StatusCode, p.Header.Get("Location"), p.Body)
	}
	if data, _ := b.graphql(`{ viewer { id } }`, nil); data != nil && data["viewer"] != nil {
		t.Fatalf("%s: signed in as %v", what, data["viewer"])
	}
}

// An approval from another device that the waiting browser has not finished yet is a used link
// of the address it went to: when the person changes their primary address and signs out
// everywhere else, or removes the address, the waiting browser answers 410 as that link
// would, and is signed in to nothing.
func TestAnUnfinishedApprovalEndsWithTheAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()

		t.Run("primary address changed", func(t *testing.T) {
			pat := e.browser()
			pat.signInTo("pat@example.com")
			u := e.userByEmail("pat@example.com")
			e.srv.db.UserEmail.Create().SetUserID(u.ID).SetEmail("pat.new@example.com").SetVerifiedAt(time.Now()).SaveX(ctx)
			thief := e.approvedElsewhere(t, "pat@example.com")
			unused := e.browser()
			unused.post(e.base+"/login", url.Values{"email": {"pat@example.com"}})
			link, _ := url.Parse(e.magicLink("pat@example.com"))

			pat.gql(`mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`,
				map[string]any{"id": emailID(t, pat, "pat.new@example.com"), "c": pat.changeCode()})
			pat.gql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil)

			wantLinkGone(t, "the unused link asked before the change", unused,
				unused.post(e.base+"/login/magic", url.Values{"token": {link.Query().Get("token")}}))
			wantLinkGone(t, "the approved browser finishing after the change", thief, thief.post(e.base+"/login/waiting", nil))
		})

		t.Run("alternative address removed", func(t *testing.T) {
			sam := e.browser()
			sam.signInTo("sam@example.com")
			u := e.userByEmail("sam@example.com")
			e.srv.db.UserEmail.Create().SetUserID(u.ID).SetEmail("sam.work@example.com").SetVerifiedAt(time.Now()).SaveX(ctx)
			thief := e.approvedElsewhere(t, "sam.work@example.com")

			sam.gql(`mutation($id: ID!, $c: String) { removeEmail(input: {emailId: $id, code: $c}) { deletedEmailId } }`,
				map[string]any{"id": emailID(t, sam, "sam.work@example.com"), "c": sam.changeCode()})

			wantLinkGone(t, "the approved browser finishing after the address was removed", thief, thief.post(e.base+"/login/waiting", nil))
		})
	})
}

// A sign-in waiting for its second step after the link is one too: a change of the primary
// address ends it (410, as the link), before its code is looked at: the recovery code that
// would have finished it is not spent.
func TestAPendingSecondStepEndsWithTheAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const who = "tess@example.com"
		dash := e.browser()
		dash.signInTo(who)
		secret, recovery := enrolTOTP(t, dash)
		// An app set up after the session's sign-in confirms nothing until a sign-in through it
		// (mfa.ConfirmChange): the dashboard signs in again with the app's next code.
		dash, _ = e.secondStep(t, e.base+"/login", who)
		if p := dash.code(totpCode(t, secret, time.Now().Add(30*time.Second))); p.StatusCode != 200 {
			t.Fatalf("signing in again with the app: %d %s", p.StatusCode, p.Request.URL)
		}
		u := e.userByEmail(who)
		e.srv.db.UserEmail.Create().SetUserID(u.ID).SetEmail("tess.new@example.com").SetVerifiedAt(time.Now()).SaveX(context.Background())
		pending, _ := e.secondStep(t, e.base+"/login", who)

		dash.gql(`mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`,
			map[string]any{"id": emailID(t, dash, "tess.new@example.com"), "c": recovery[1]})

		wantLinkGone(t, "the second step after the change", pending, pending.code(recovery[0]))
		data := dash.gql(`{ viewer { twoStep { recoveryCodesLeft } } }`, nil)
		if n := data["viewer"].(map[string]any)["twoStep"].(map[string]any)["recoveryCodesLeft"]; n != float64(len(recovery)-1) {
			t.Fatalf("recoveryCodesLeft = %v, want %d (the one that made the change): the pending sign-in's code was spent", n, len(recovery)-1)
		}
	})
}

// "Sign out everywhere else" alone, without any address change, ends every sign-in not
// finished yet, as it is what a person does who suspects someone else got in: an unused link,
// a browser whose sign-in another device approved and a sign-in waiting for its second step
// answer 410 as a used link would and sign in nobody (the recovery code is not spent). The
// person's own browser stays signed in, and a link asked for afterwards signs in.
func TestSigningOutEverywhereElseEndsUnfinishedSignIns(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		signOutOthers := func(b *browser) {
			t.Helper()
			b.gql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil)
		}

		t.Run("links and approvals", func(t *testing.T) {
			const who = "pia@example.com"
			pia := e.browser()
			pia.signInTo(who)
			thief := e.approvedElsewhere(t, who)
			unused := e.browser()
			unused.post(e.base+"/login", url.Values{"email": {who}})
			link, _ := url.Parse(e.magicLink(who))

			signOutOthers(pia)

			wantLinkGone(t, "the unused link asked before signing out everywhere else", unused,
				unused.post(e.base+"/login/magic", url.Values{"token": {link.Query().Get("token")}}))
			wantLinkGone(t, "the approved browser finishing after signing out everywhere else", thief, thief.post(e.base+"/login/waiting", nil))
			if data := pia.gql(`{ viewer { email } }`, nil); data["viewer"].(map[string]any)["email"] != who {
				t.Fatalf("the browser that signed out the others: viewer %v", data["viewer"])
			}
			again := e.browser()
			again.signInTo(who)
			if data := again.gql(`{ viewer { email } }`, nil); data["viewer"].(map[string]any)["email"] != who {
				t.Fatalf("a link asked for afterwards: viewer %v", data["viewer"])
			}
		})

		// The person signs out everywhere else while an approved browser finishes: after the
		// approval's check (accountHolding) and before the browser's session exists, when there
		// is nothing yet to end. The sign-in page compares the account's version once the
		// session exists and ends it. Staged on PostgreSQL only: on SQLite the sign-in's
		// transaction holds the write lock from its start (_txlock=immediate), so the person's
		// sign-out could not commit inside it.
		if strings.HasPrefix(dbURL, "postgres") {
			t.Run("racing an approved browser", func(t *testing.T) {
				const who = "rue@example.com"
				rue := e.browser()
				rue.signInTo(who)
				thief := e.approvedElsewhere(t, who)
				var armed atomic.Bool
				var signedOut []map[string]any // the sign-out's GraphQL errors, read once the hook ran
				e.srv.db.User.Use(func(next ent.Mutator) ent.Mutator {
					return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
						if um, ok := m.(*ent.UserMutation); ok && armed.Load() {
							// The sign-in being recorded: its check has passed, its session does not exist yet.
							if _, recording := um.LastLoginAt(); recording && armed.CompareAndSwap(true, false) {
								_, signedOut = rue.graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil)
							}
						}
						return next.Mutate(ctx, m)
					})
				})
				armed.Store(true)
				finished := thief.post(e.base+"/login/waiting", nil)
				if armed.Load() || signedOut != nil {
					t.Fatalf("the race was not staged: hook armed %v, sign-out errors %v", armed.Load(), signedOut)
				}
				wantLinkGone(t, "the approved browser finishing while the person signed out everywhere else", thief, finished)
			})
		}

		t.Run("second step", func(t *testing.T) {
			const who = "sol@example.com"
			dash := e.browser()
			dash.signInTo(who)
			_, recovery := enrolTOTP(t, dash)
			pending, _ := e.secondStep(t, e.base+"/login", who)

			signOutOthers(dash)

			wantLinkGone(t, "the second step after signing out everywhere else", pending, pending.code(recovery[0]))
			data := dash.gql(`{ viewer { twoStep { recoveryCodesLeft } } }`, nil)
			if n := data["viewer"].(map[string]any)["twoStep"].(map[string]any)["recoveryCodesLeft"]; n != float64(len(recovery)) {
				t.Fatalf("recoveryCodesLeft = %v, want %d: the code was spent", n, len(recovery))
			}
		})
	})
}

// setRedirects replaces app's redirect URIs from the developer's browser (REST).
func setRedirects(t *testing.T, dev *browser, appID string, uris ...string) {
	t.Helper()
	if status, out := dev.api(http.MethodPatch, "/api/developer/applications/"+appID, map[string]any{"redirectUris": uris}); status != 200 {
		t.Fatalf("setting the redirect URIs: %d %v", status, out)
	}
}

// wantRedirectErrorPage checks that p is the authorization endpoint's page for an unregistered
// redirect URI: 400, shown, never a redirect.
func wantRedirectErrorPage(t *testing.T, what string, p page) {
	t.Helper()
	if p.StatusCode != http.StatusBadRequest || p.Header.Get("Location") != "" || !strings.Contains(p.Body, "is not registered for") {
		t.Fatalf("%s = %d Location=%q, want the 400 page of an unregistered redirect URI:\n%s", what, p.StatusCode, p.Header.Get("Location"), p.Body)
	}
}

// A redirect URI the developer removes gets nothing more (RFC 6749 §3.1.2.3): an authorization
// in progress to it ends on the authorization endpoint's error page for an unregistered URI,
// whether the person then signs in (and had consented before), answers the consent page
// (allow or deny), and a code issued to it before the removal exchanges for nothing.
func TestARemovedRedirectURIGetsNothingMore(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const evil = "https://evil.example.test/cb"
		dev := e.browser()
		dev.signInTo("dev@example.com")
		authorize := func(b *browser, verifier string) page {
			return b.get(e.config(e.app, evil).AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		}
		e.authorizeCode(e.browser(), defaultTestEmail) // the person consented to the app before

		setRedirects(t, dev, e.app.ID, rpCallback, rpLoopback, evil)
		signingIn := e.browser()
		loginPage := authorize(signingIn, oauth2.GenerateVerifier())
		consenting := e.browser()
		consenting.signInTo("zed@example.com")
		consentPage := authorize(consenting, oauth2.GenerateVerifier())
		issued, verifier := e.browser(), oauth2.GenerateVerifier()
		issued.signInTo("zoe@example.com")
		p := issued.consent(authorize(issued, verifier), "allow", "")
		loc, _ := url.Parse(p.Header.Get("Location"))
		code := loc.Query().Get("code")
		if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), evil+"?") || code == "" {
			t.Fatalf("while registered: %d %q", p.StatusCode, p.Header.Get("Location"))
		}

		setRedirects(t, dev, e.app.ID, rpCallback, rpLoopback)
		wantRedirectErrorPage(t, "a new authorization", authorize(e.browser(), oauth2.GenerateVerifier()))
		wantRedirectErrorPage(t, "signing in to an authorization started before the removal", signingIn.signIn(loginPage, defaultTestEmail))
		wantRedirectErrorPage(t, "allowing on a consent page shown before the removal", consenting.consent(consentPage, "allow", ""))
		wantRedirectErrorPage(t, "denying on a consent page shown before the removal", consenting.consent(consentPage, "deny", ""))
		st, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {evil}, "code_verifier": {verifier}})
		wantOAuthError(t, st, body, hdr, 400, "invalid_grant")
	})
}
