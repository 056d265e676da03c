package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEndingASessionFromElsewhereEndsItsBrowsersWaitingSignIn21: a person signed in on a
// shared computer asks there for a sign-in link (signing in again, or to an app) and leaves
// the "check your email" page open; from their phone they end the computer's session ("Sign
// out everywhere else"). A sign-out on the computer would have cleared its waiting sign-in;
// the ending from elsewhere noted the sign-out for the computer's old links only
// (TestEndingASessionFromElsewhereIsASignOutInItsBrowser19), and the waiting page went on
// naming the address, taking the mailed code, for up to 15 minutes. It ends as after a
// sign-out there.
func TestEndingASessionFromElsewhereEndsItsBrowsersWaitingSignIn21(t *testing.T) {
	t.Parallel()
	for _, way := range []string{"revokeSession", "revokeOtherSessions"} {
		t.Run(way, func(t *testing.T) {
			e := sqliteEnv(t)
			const email = "left.waiting@example.com"
			shared := e.browser()
			shared.signIn(shared.get(e.base+"/login"), email)
			shared.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			if p := shared.post(e.base+"/login", url.Values{"email": {email}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST /login = %d", p.StatusCode)
			}
			_, code := e.signInMail(email)
			if p := shared.get(e.base + "/login/sent"); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, email) {
				t.Fatalf("the waiting page on the shared computer, signed in = %d:\n%s", p.StatusCode, p.Body)
			}

			phone := e.browser()
			phone.signIn(phone.get(e.base+"/login"), email)
			switch way {
			case "revokeSession":
				data, errs := phone.graphql(`{ viewer { sessions { id current } } }`, nil)
				if errs != nil {
					t.Fatal(errs)
				}
				other := ""
				for _, s := range data["viewer"].(map[string]any)["sessions"].([]any) {
					if s := s.(map[string]any); s["current"] != true {
						other = s["id"].(string)
					}
				}
				if _, errs := phone.graphql(`mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }`, map[string]any{"id": other}); errs != nil {
					t.Fatalf("revokeSession: %v", errs)
				}
			case "revokeOtherSessions":
				if _, errs := phone.graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil); errs != nil {
					t.Fatalf("revokeOtherSessions: %v", errs)
				}
			}
			if data, _ := shared.graphql(`{ viewer { id } }`, nil); data["viewer"] != nil {
				t.Fatalf("the shared computer's session survived: %v", data)
			}

			if p := shared.get(e.base + "/login/sent"); strings.Contains(p.Body, email) {
				t.Errorf("the waiting page on the shared computer after its session ended from elsewhere = %d, names %s:\n%s", p.StatusCode, email, p.Body)
			}
			if p := shared.get(e.base + "/login/waiting"); !strings.Contains(p.Body, `"expired"`) {
				t.Errorf("GET /login/waiting after the session ended from elsewhere = %d %s, want expired", p.StatusCode, p.Body)
			}
			shared.post(e.base+"/login/code", url.Values{"code": {code}})
			if data, _ := shared.graphql(`{ viewer { id } }`, nil); data["viewer"] != nil {
				t.Fatalf("the mailed code signed the shared computer in again after its session ended from elsewhere: %v", data)
			}
		})
	}
}
