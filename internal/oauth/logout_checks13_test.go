package oauth_test

import (
	"net/url"
	"testing"
	"time"

	"loginsign/internal/oauth"
)

// TestARefreshedIDTokenOfAnEarlierSignInAsksBeforeSigningOut: an id_token_hint signs the
// person out without asking only when it belongs to their current session (RP-Initiated
// Logout 1.0 §2). Its iat alone does not tell: any application holding a live refresh token
// of an earlier sign-in (a session that timed out, another browser's) gets an id_token with
// iat now at every refresh, and could then sign the person out of the session they have now,
// ending the tokens other applications got from it, whenever it liked. A refreshed id_token
// keeps the sign-in's auth_time: a sign-in before this session asks; this session's own
// sign-in, refreshed or not, still signs out at once.
func TestARefreshedIDTokenOfAnEarlierSignInAsksBeforeSigningOut(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, secret := e.client(t, cb)
		person := e.person(t)

		raw, err := e.svc.Identity.Sessions.Create(ctx, person.ID, "Firefox", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		session, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		started, err := e.svc.Identity.Sessions.CreatedAt(ctx, session.ID)
		if err != nil || started.IsZero() {
			t.Fatalf("the session's start: %v %v", started, err)
		}

		// refreshed exchanges a code of a sign-in at authTime, refreshes its token once and
		// answers the refreshed id_token, issued now.
		refreshed := func(authTime time.Time) string {
			t.Helper()
			code, err := e.svc.Approve(ctx, e.authorize(t, authzQuery(app.ID, cb, "", "scope", "openid")), person.ID, oauth.ShareAlias, authTime)
			if err != nil {
				t.Fatal(err)
			}
			first, err := e.token(app.ID, secret, codeForm(code, cb, ""))
			if err != nil {
				t.Fatal(err)
			}
			next, err := e.token(app.ID, secret, refreshForm(first.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			if next.IDToken == "" {
				t.Fatal("the refresh answered no id_token")
			}
			return next.IDToken
		}
		for _, c := range []struct {
			name     string
			authTime time.Time
			ask      bool
		}{
			{"a sign-in a day before this session, refreshed now", started.Add(-24 * time.Hour), true},
			{"a sign-in a minute before this session, refreshed now", started.Add(-time.Minute), true},
			{"this session's own sign-in, refreshed now", started, false},
		} {
			req, err := e.svc.ParseLogout(ctx, url.Values{"id_token_hint": {refreshed(c.authTime)}})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			ask, err := e.svc.LogoutNeedsConfirmation(ctx, req, session)
			if err != nil || ask != c.ask {
				t.Errorf("%s (hint issued %s, session started %s): asks %v, %v; want %v",
					c.name, req.HintIssuedAt.UTC().Format(time.RFC3339), started.UTC().Format(time.RFC3339), ask, err, c.ask)
			}
		}
	})
}
