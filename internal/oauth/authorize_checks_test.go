package oauth_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// An id_token_hint signs the person out without asking only when it names one of their own
// connections and was issued during their session: anyone can send a signed-in person to the
// end-session endpoint, with the id_token of another person's connection to the same
// application, or an id_token of an earlier session of theirs that an application kept.
func TestALogoutHintNamingAnotherPersonsConnectionStillAsks(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		owner, visitor := e.person(t), e.person(t)
		e.code(t, owner, authzQuery(app.ID, cb, ""))
		connID, err := e.db.AppConnection.Query().
			Where(appconnection.UserID(owner.ID), appconnection.ApplicationID(app.ID)).OnlyID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		session := func(u *ent.User) auth.Session {
			raw, err := e.svc.Identity.Sessions.Create(ctx, u.ID, "Firefox", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			s, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		mine, theirs := session(owner), session(visitor)
		started, err := e.svc.Identity.Sessions.CreatedAt(ctx, mine.ID)
		if err != nil || started.IsZero() {
			t.Fatalf("the session's start: %v %v", started, err)
		}
		for _, c := range []struct {
			name    string
			hint    string
			issued  time.Time
			session auth.Session
			ask     bool
		}{
			{"the hint is the person's own, of this session", connID, started.Add(time.Second), mine, false},
			{"the hint is the person's own, of an earlier session", connID, started.Add(-time.Second), mine, true},
			{"the hint is another person's", connID, started.Add(time.Second), theirs, true},
			{"the hint names no connection", "conn_unknown", started.Add(time.Second), mine, true},
			{"no hint", "", time.Time{}, mine, true},
			{"a session that ended", connID, started.Add(time.Second), auth.Session{UserID: owner.ID, ID: "gone"}, true},
		} {
			req := &oauth.LogoutRequest{Application: app, HintConnectionID: c.hint, HintIssuedAt: c.issued, HintAuthTime: c.issued}
			ask, err := e.svc.LogoutNeedsConfirmation(ctx, req, c.session)
			if err != nil || ask != c.ask {
				t.Errorf("%s: asks %v, %v; want %v", c.name, ask, err, c.ask)
			}
		}
	})
}

// PKCE is S256 or nothing (RFC 7636 §4.3, RFC 9700 §2.1.1): every other shape of it is an
// invalid_request, redirected to the client, and a native app's private-use redirect URI
// needs it.
func TestAnAuthorizationRequestTakesOnlyS256PKCE(t *testing.T) {
	t.Parallel()
	challenge := oauth.S256(verifier())
	for _, c := range []struct {
		name, redirect, challenge, method string
		// refused is a word the error's description holds; "" for an accepted request.
		refused string
	}{
		{"S256", "https://rp.example/cb", challenge, "S256", ""},
		{"no PKCE on https", "https://rp.example/cb", "", "", ""},
		{"plain", "https://rp.example/cb", challenge, "plain", "plain"},
		{"an unknown method", "https://rp.example/cb", challenge, "S512", "S256"},
		{"a challenge without its method", "https://rp.example/cb", challenge, "", "code_challenge_method"},
		{"a method without its challenge", "https://rp.example/cb", "", "S256", "code_challenge"},
		{"a short challenge", "https://rp.example/cb", "short", "S256", "43"},
		{"a challenge of 43 characters that are not base64url", "https://rp.example/cb", strings.Repeat("!", 43), "S256", "43"},
		{"a private-use redirect without PKCE", "com.example.app:/cb", "", "", "native"},
		{"a private-use redirect with S256", "com.example.app:/cb", challenge, "S256", ""},
	} {
		q := url.Values{"client_id": {"app_x"}, "redirect_uri": {c.redirect}, "response_type": {"code"}}
		if c.challenge != "" {
			q.Set("code_challenge", c.challenge)
		}
		if c.method != "" {
			q.Set("code_challenge_method", c.method)
		}
		r, err := oauth.ParseAuthorizeRequest(q)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		e := oauth.AsError(err)
		if err == nil || e.Code != oauth.InvalidRequest || !e.Redirect || !strings.Contains(e.Description, c.refused) {
			t.Errorf("%s: accepted (%q/%q) or wrong error %v (redirect %v); want a redirected invalid_request naming %q",
				c.name, r.CodeChallenge, r.CodeChallengeMethod, err, e.Redirect, c.refused)
		}
	}
}

// A link opened on another device approves the browser waiting for it only with the number
// that browser shows, and only within ApproveAttempts tries: after them even the right
// number approves nothing, and the waiting browser stays signed out.
func TestApprovingAnotherDeviceTakesItsNumberWithinItsTries(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		ip := 0
		approve := func(link, match string) error {
			ip++
			return e.svc.ApproveOther(ctx, link, match, fmt.Sprintf("192.0.2.%d", 100+ip))
		}
		start := func(browser string) (raw, link, match, wrong string) {
			t.Helper()
			who := fmt.Sprintf("approve-%s@example.com", strings.ToLower(ids.New("")))
			raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.99", browser, "")
			if err != nil {
				t.Fatal(err)
			}
			link, _ = box.last(t, who)
			w, err := e.svc.WaitingSignIn(ctx, raw, browser)
			if err != nil {
				t.Fatal(err)
			}
			wrong = "10"
			if w.Match == wrong {
				wrong = "11"
			}
			return raw, link, w.Match, wrong
		}

		raw, link, match, wrong := start("browser-a")
		for i := 1; i < oauth.ApproveAttempts; i++ {
			if err := approve(link, wrong); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong number %d: %v, want Invalid", i, err)
			}
		}
		if err := approve(link, wrong); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("the last wrong number: %v, want Forbidden", err)
		}
		if err := approve(link, match); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("the right number after %d wrong ones: %v, want Forbidden", oauth.ApproveAttempts, err)
		}
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-a"); err == nil {
			t.Fatalf("the waiting browser signed in as %s without an approval", in.User.Email)
		}

		// Within the tries, the right number approves, and the waiting browser finishes.
		raw, link, match, wrong = start("browser-b")
		if err := approve(link, wrong); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a wrong number: %v, want Invalid", err)
		}
		if err := approve(link, match); err != nil {
			t.Fatalf("the right number: %v", err)
		}
		if _, err := e.svc.FinishApproved(ctx, raw, "browser-b"); err != nil {
			t.Fatalf("finishing the approved sign-in: %v", err)
		}
	})
}

// An application that did not ask for the email scope (and was never granted it) is shown no
// address, and an answer naming one anyway (a forged consent form) gives it none: the
// person's address is never the application's without the person choosing it on a page that
// offered it.
func TestAnAnswerSharingAnAddressTheAppDidNotAskForIsRefused(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		u := e.person(t)
		req := e.authorize(t, authzQuery(app.ID, cb, "", "scope", "openid"))
		code, err := e.svc.Approve(ctx, req, u.ID, u.Email, e.clock.Now())
		wantOAuthError(t, err, oauth.InvalidRequest)
		if code != "" {
			t.Fatalf("a code for an answer sharing %s without the email scope", u.Email)
		}
		if n, err := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.AppEmailNEQ("")).Count(ctx); err != nil || n != 0 {
			t.Fatalf("%d connections show the person's address (%v)", n, err)
		}
		if _, err := e.svc.Approve(ctx, req, u.ID, oauth.ShareAlias, e.clock.Now()); err != nil {
			t.Fatalf("the masked address: %v", err)
		}
	})
}

// A connection the person blocked gets no code, whether the person answers a consent page or
// a remembered consent would approve silently: the authorization answers access_denied.
func TestConsentingToABlockedAppIsAccessDenied(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		u := e.person(t)
		q := authzQuery(app.ID, cb, "")
		e.code(t, u, q)
		if n, err := e.db.AppConnection.Update().
			Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).SetBlocked(true).Save(ctx); err != nil || n != 1 {
			t.Fatalf("blocking: %d, %v", n, err)
		}
		for _, share := range []string{oauth.ShareAlias, ""} {
			code, err := e.svc.Approve(ctx, e.authorize(t, q), u.ID, share, e.clock.Now())
			wantOAuthError(t, err, oauth.AccessDenied)
			if code != "" {
				t.Fatalf("share %q: a code for a blocked connection", share)
			}
		}
	})
}

// A link sent to the account's primary address stops working once that address changes (its
// EmailVersion moves on), even when the address comes back as the primary later: it signs in
// to nobody, as a used link does.
func TestALinkSentBeforeThePrimaryAddressChangedSignsNobodyIn(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		u := e.person(t)
		if err := e.svc.SendMagicLink(ctx, u.Email, "192.0.2.61"); err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, u.Email)
		moved := "moved-" + strings.ToLower(ids.New("")) + "@example.com"
		for i, addr := range []string{moved, u.Email} { // changed away, then back
			if err := e.db.User.UpdateOneID(u.ID).SetEmail(addr).SetEmailVersion(u.EmailVersion + 1 + i).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if in, err := e.svc.UseMagicLink(ctx, link, "192.0.2.61", "browser-61"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link after the address changed away and back: %+v, %v; want Gone", in, err)
		}
	})
}
