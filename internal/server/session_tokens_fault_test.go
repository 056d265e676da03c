package server

import (
	"testing"

	"loginsign/internal/kv/kvtest"
)

// Signing out everywhere else when Redis fails half way through ending what a thief's app
// got (the delete of the family's access tokens) says so and ends nothing: the thief's
// session stays listed for the person to end again, and ending it again ends the session
// and the app's access and refresh tokens. Before, the first attempt answered success with
// the app's tokens alive, or left them out of every retry's reach.
func TestSigningOutEverywhereElseThatFailsHalfWayIsFinishedByItsRetry(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		f := kvtest.InjectFaults(t, e.srv.kv)
		laptop, thief := e.browser(), e.browser()
		laptop.signIn(laptop.get(e.base+"/login"), defaultTestEmail)
		stolen := e.connectWith(thief)
		if stolen.AccessToken == "" || stolen.RefreshToken == "" {
			t.Fatalf("the thief's app got access %q, refresh %q", stolen.AccessToken, stolen.RefreshToken)
		}
		if st, _, _ := e.apiUser(stolen.AccessToken); st != 200 {
			t.Fatalf("the thief's app's access token before anything ended: %d", st)
		}
		thiefSession := otherSession(t, laptop)

		const signOutOthers = `mutation { revokeOtherSessions(input: {}) { revokedSessions } }`
		f.Arm("del", "fat:", 1) // revokeFamilies' delete of the family's access tokens
		data, errs := laptop.graphql(signOutOthers, nil)
		if errs == nil {
			t.Fatalf("signing out everywhere else with the access tokens not deleted answered %v, want an error", data)
		}
		if ext, _ := errs[0]["extensions"].(map[string]any); ext["code"] != "temporarily_unavailable" {
			t.Errorf("the failed attempt answered %v, want temporarily_unavailable (a lost connection is an outage)", errs)
		}
		if n := f.Injected(); n != 1 {
			t.Fatalf("the fault was injected %d times, want 1", n)
		}
		f.Disarm()
		if id := otherSession(t, laptop); id != thiefSession {
			t.Fatalf("after the failed attempt the person sees session %s, want the thief's %s", id, thiefSession)
		}

		if _, errs := laptop.graphql(signOutOthers, nil); errs != nil {
			t.Fatalf("the retry: %v", errs)
		}
		data, errs = laptop.graphql(`{ viewer { sessions { id current } } }`, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		if sessions := data["viewer"].(map[string]any)["sessions"].([]any); len(sessions) != 1 {
			t.Fatalf("after the retry the person has sessions %v, want their own alone", sessions)
		}
		if st, _, _ := e.apiUser(stolen.AccessToken); st != 401 {
			t.Fatalf("the thief's app's access token after the retry: GET /api/user answered %d, want 401", st)
		}
		if access, refresh := e.tokensWork(stolen); access || refresh {
			t.Fatalf("the thief's app's tokens after the retry: access %v, refresh %v, want both refused", access, refresh)
		}
	})
}
