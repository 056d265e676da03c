package server

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/passkey"
)

// TestAPasskeyRemovedDuringItsSignInLeavesNoSession: the person removes a passkey (someone
// else's they found in their dashboard) while a sign-in with it is between the check of its
// assertion and the start of its session. The removal ends the passkey's sessions once it has
// committed, and the session of that sign-in did not exist yet: it was written afterwards and
// kept its holder signed in for the session's lifetime, with nothing left in the dashboard to
// remove. A holder of a synced passkey (a signature counter always 0, so parallel sign-ins all
// verify) keeps a sign-in in that window at any moment. The session is refused once written
// when its passkey is gone, as one of a removed address is.
func TestAPasskeyRemovedDuringItsSignInLeavesNoSession(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		ctx := context.Background()
		u, _, err := e.srv.identity.EnsureUser(ctx, defaultTestEmail)
		if err != nil {
			t.Fatal(err)
		}
		sk := e.addSoftKey(t, u.ID)
		thief := e.browser()
		thief.get(e.base + "/login")
		cred := sk.assert(t, thief.get(e.base+"/login/passkey").Body)

		// The person's removal commits right after the assertion verified (the oauth clock is
		// first read after passkey.Service.FinishLogin): the passkey's row goes and its
		// sessions end (what passkey.Service.Delete does once it has committed).
		var armed, removed atomic.Bool
		real := e.srv.oauth.Now
		e.srv.oauth.Now = func() time.Time {
			if armed.CompareAndSwap(true, false) {
				if _, err := e.srv.db.Passkey.Delete().Where(entpasskey.CredentialID(sk.id)).Exec(ctx); err == nil {
					if _, err := e.srv.identity.EndPasskeySessions(ctx, u.ID, passkey.Ref(sk.id)); err == nil {
						removed.Store(true)
					}
				}
			}
			return real()
		}
		armed.Store(true)
		p := thief.post(e.base+"/login/passkey", url.Values{"credential": {cred}})
		if !removed.Load() {
			t.Fatal("the removal did not run during the sign-in")
		}
		if p.StatusCode != http.StatusUnauthorized {
			t.Errorf("a sign-in with a passkey removed meanwhile: %d at %s, want 401", p.StatusCode, p.Request.URL.Path)
		}
		if data, _ := thief.graphql(`{ viewer { id } }`, nil); data != nil && data["viewer"] != nil {
			t.Errorf("the sign-in of the removed passkey left a session: %v", data)
		}
		list, err := e.srv.identity.Sessions.List(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Errorf("%d sessions after the passkey's removal, want none", len(list))
		}

		// A passkey still registered signs in as before.
		other := e.addSoftKey(t, u.ID)
		b := e.browser()
		b.get(e.base + "/login")
		if p := b.post(e.base+"/login/passkey", url.Values{"credential": {other.assert(t, b.get(e.base+"/login/passkey").Body)}}); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("a registered passkey: %d at %s", p.StatusCode, p.Request.URL.Path)
		}
	})
}
