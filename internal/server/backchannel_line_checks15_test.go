package server

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/internal/portal"
)

// TestSigningOutAfterSigningInAgainLogsOutTheAppsOfTheWholeLine: a person signs in to app A,
// then app B asks for a fresh sign-in (prompt=login) and the same browser signs in again: a new
// session that continues the first one's line. Signing out then ends the whole line's tokens
// (TestSigningInAgainKeepsWhatTheSessionGaveInItsLine) and must send A its back-channel logout
// too (Back-Channel Logout 1.0 §2.7: every RP the person is logged in to through this OP
// session). Before, only the applications signed in to since the re-authentication's session
// began were told: A kept its own session of the person, whose LoginSign sign-out it never
// heard of, while its tokens were revoked under it. The same holds when the person ends that
// session from another device (revokeSession).
func TestSigningOutAfterSigningInAgainLogsOutTheAppsOfTheWholeLine(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"signing out", "ending the session from another device"} {
		t.Run(how, func(t *testing.T) {
			forBackends(t, func(t *testing.T, dbURL string) {
				e := newOAuthEnv(t, dbURL)
				rcv := newLogoutReceiver(t)
				e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
				b := signedInAgainAfterApp(t, e)
				if how == "signing out" {
					signOut(t, b)
				} else {
					phone := e.browser()
					phone.signInTo(defaultTestEmail)
					revoke := `mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }`
					if _, errs := phone.graphql(revoke, map[string]any{"id": otherSession(t, phone)}); errs != nil {
						t.Fatal(errs)
					}
				}
				if _, err := e.srv.webhooks.Worker.DeliverDue(context.Background()); err != nil {
					t.Fatal(err)
				}
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				if len(rcv.got) != 1 {
					t.Fatalf("app A got %d back-channel logouts after %s, want 1", len(rcv.got), how)
				}
				form, _ := url.ParseQuery(rcv.body[0])
				if form.Get("logout_token") == "" {
					t.Fatalf("no logout_token: %q", rcv.body[0])
				}
			})
		})
	}
}

// signedInAgainAfterApp signs a browser in to e.app (which a back-channel logout URI may
// tell), an hour into its session, then signs it in again for another app that asks for a
// fresh sign-in (prompt=login), and returns it.
func signedInAgainAfterApp(t *testing.T, e *oauthEnv) *browser {
	t.Helper()
	b := e.browser()
	e.connect(b, e.app, defaultTestEmail)
	u := e.userByEmail(defaultTestEmail)
	ctx := context.Background()

	// The sign-in to A is some time ago, within its session (no timing of the test's own).
	hashes, err := e.srv.kv.SMembers(ctx, "usess:"+u.ID).Result()
	if err != nil || len(hashes) != 1 {
		t.Fatalf("sessions %v %v", hashes, err)
	}
	hour := time.Now().Add(-time.Hour).UnixMilli()
	if err := e.srv.kv.HSet(ctx, "sess:"+hashes[0], "created", hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.db.AppConnection.Update().Where(appconnection.ApplicationID(e.app.ID), appconnection.UserID(u.ID)).
		SetLastSessionAt(time.Now().Add(-30 * time.Minute)).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	// App B asks for a fresh sign-in; the browser signs in again.
	other := e.createApp("Fresh Sign-in App", rpCallback)
	conf := e.config(other, rpCallback)
	verifier := oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "login"), oauth2.S256ChallengeOption(verifier)))
	if !strings.Contains(p.Body, `type="email"`) {
		t.Fatalf("prompt=login did not ask to sign in again: %d %s", p.StatusCode, p.Request.URL)
	}
	p = b.signIn(p, defaultTestEmail)
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	if q := callback(t, p); q.Get("code") == "" {
		t.Fatalf("no code for app B: %v", q)
	}
	return b
}
