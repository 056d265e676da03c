package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// connectWith is oauthEnv.connect with extra authorization parameters (prompt=login signs in
// again although the browser has a session).
func (e *oauthEnv) connectWith(b *browser, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	e.t.Helper()
	conf := e.config(e.app, rpCallback)
	verifier := oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL("st", append(opts, oauth2.S256ChallengeOption(verifier))...))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, defaultTestEmail)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	tok, err := conf.Exchange(e.ctx(), callback(e.t, p).Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// tokensWork reports whether tok's access token still reads /api/user and its refresh token
// still rotates; a rotated token replaces tok's.
func (e *oauthEnv) tokensWork(tok *oauth2.Token) (access, refresh bool) {
	e.t.Helper()
	st, _, _ := e.apiUser(tok.AccessToken)
	access = st == 200
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	switch {
	case st == 200:
		tok.AccessToken, tok.RefreshToken = body["access_token"].(string), body["refresh_token"].(string)
		return access, true
	case st == 400 && body["error"] == "invalid_grant":
		return access, false
	}
	e.t.Fatalf("refresh: %d %v", st, body)
	return
}

// otherSession is the id of the signed-in person's one session other than b's.
func otherSession(t *testing.T, b *browser) string {
	t.Helper()
	data, errs := b.graphql(`{ viewer { sessions { id current } } }`, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	var ids []string
	for _, s := range data["viewer"].(map[string]any)["sessions"].([]any) {
		if s := s.(map[string]any); s["current"] != true {
			ids = append(ids, s["id"].(string))
		}
	}
	if len(ids) != 1 {
		t.Fatalf("other sessions %v, want one", ids)
	}
	return ids[0]
}

// signOut signs b out of LoginSign (POST /logout, which lands on /login).
func signOut(t *testing.T, b *browser) {
	t.Helper()
	if p := b.post(b.e.base+"/logout", url.Values{}); p.Request.URL.Path != "/login" {
		t.Fatalf("sign-out: %d at %s", p.StatusCode, p.Request.URL)
	}
}

// Ending a browser session ends what the applications were given from it (OpenID Connect
// Back-Channel Logout 1.0 §2.7): the refresh tokens and access tokens of every sign-in to an
// app that the session approved, whether the person ends it from another device (one session,
// or all others) or signs out in it. Tokens of the sessions that stay keep working.
func TestEndingASessionRevokesTheTokensItsAppsGot(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		laptop, phone := e.browser(), e.browser()
		laptop.signIn(laptop.get(e.base+"/login"), defaultTestEmail)
		stolen := e.connectWith(phone)
		kept := e.connectWith(laptop)
		for name, tok := range map[string]*oauth2.Token{"the phone's": stolen, "the laptop's": kept} {
			if access, refresh := e.tokensWork(tok); !access || !refresh {
				t.Fatalf("%s tokens before any session ends: access %v, refresh %v", name, access, refresh)
			}
		}

		revoke := `mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }`
		if _, errs := laptop.graphql(revoke, map[string]any{"id": otherSession(t, laptop)}); errs != nil {
			t.Fatal(errs)
		}
		if access, refresh := e.tokensWork(stolen); access || refresh {
			t.Fatalf("after the person ended the phone's session, its app tokens still work: access %v, refresh %v", access, refresh)
		}
		if access, refresh := e.tokensWork(kept); !access || !refresh {
			t.Fatalf("ending the phone's session ended the laptop's app tokens: access %v, refresh %v", access, refresh)
		}

		phone.signIn(phone.get(e.base+"/login"), defaultTestEmail)
		stolen = e.connectWith(phone)
		if _, errs := laptop.graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil); errs != nil {
			t.Fatal(errs)
		}
		if access, refresh := e.tokensWork(stolen); access || refresh {
			t.Fatalf("after signing out everywhere else, the phone's app tokens still work: access %v, refresh %v", access, refresh)
		}
		if access, refresh := e.tokensWork(kept); !access || !refresh {
			t.Fatalf("signing out everywhere else ended this session's app tokens: access %v, refresh %v", access, refresh)
		}

		signOut(t, laptop)
		if access, refresh := e.tokensWork(kept); access || refresh {
			t.Fatalf("after signing out, the app tokens of the session still work: access %v, refresh %v", access, refresh)
		}
	})
}

// Signing in again in a browser (prompt=login, max_age) continues the session's line: what
// the apps got before the re-authentication ends when the person signs out, too. A session
// that merely expires ends nothing at the apps.
func TestSigningInAgainKeepsWhatTheSessionGaveInItsLine(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	before := e.connectWith(b)
	after := e.connectWith(b, oauth2.SetAuthURLParam("prompt", "login"))
	signOut(t, b)
	for name, tok := range map[string]*oauth2.Token{"before": before, "after": after} {
		if access, refresh := e.tokensWork(tok); access || refresh {
			t.Fatalf("tokens of the sign-in %s signing in again still work after signing out: access %v, refresh %v", name, access, refresh)
		}
	}

	other := e.browser()
	tok := e.connectWith(other)
	e.ageSessions(e.userByEmail(defaultTestEmail).ID, 31*24*time.Hour) // past the absolute timeout
	if p := other.get(e.base + "/dashboard"); p.Request.URL.Path != "/login" {
		t.Fatalf("an expired session still opens the dashboard: %s", p.Request.URL)
	}
	if access, refresh := e.tokensWork(tok); !access || !refresh {
		t.Fatalf("the session's expiry ended the app's tokens: access %v, refresh %v", access, refresh)
	}
}

// A code the session approved, exchanged after the person ended that session, issues nothing.
func TestACodeOfAnEndedSessionIssuesNoTokens(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		laptop := e.browser()
		laptop.signIn(laptop.get(e.base+"/login"), defaultTestEmail)
		code, verifier := e.authorizeCode(e.browser(), defaultTestEmail)
		if _, errs := laptop.graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil); errs != nil {
			t.Fatal(errs)
		}
		st, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
		wantOAuthError(t, st, body, hdr, 400, "invalid_grant")
	})
}
