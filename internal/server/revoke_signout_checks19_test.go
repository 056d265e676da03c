package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// TestEndingASessionFromElsewhereIsASignOutInItsBrowser19: a person signs in on a shared
// computer and leaves without signing out; from their phone they end that session, one
// (revokeSession) or with all the others ("Sign out everywhere else"). That is what signing
// out on the computer would have done: the link in the computer's history now names the
// address only masked, and "email me a new link" there asks for the address to be typed and
// mails nothing. Before, only a sign-out in that browser did; after the dashboard ended its
// session the next user of the computer saw the person's address whole and mailed them new
// links with a press (TestSigningOutEndsTheAddressOfTheBrowsersOldLinks17 is the sign-out's
// own case).
func TestEndingASessionFromElsewhereIsASignOutInItsBrowser19(t *testing.T) {
	t.Parallel()
	for _, way := range []string{"revokeSession", "revokeOtherSessions"} {
		t.Run(way, func(t *testing.T) {
			e := sqliteEnv(t)
			tok := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }
			const email = "left.signed.in@example.com"
			masked := oauth.MaskEmail(email)
			shared := e.browser()
			shared.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			if p := shared.post(e.base+"/login", url.Values{"email": {email}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST /login = %d", p.StatusCode)
			}
			link, code := e.signInMail(email)
			if p := shared.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("code = %d %s", p.StatusCode, p.Body)
			}
			if p := shared.get(link); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `value="`+email+`"`) {
				t.Fatalf("the used link's page on the shared computer, signed in = %d:\n%s", p.StatusCode, p.Body)
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

			p := shared.get(link)
			if p.StatusCode != http.StatusGone || strings.Contains(p.Body, email) || !strings.Contains(p.Body, masked) {
				t.Errorf("the used link's page on the shared computer after its session ended = %d, want 410 naming only %s:\n%s", p.StatusCode, masked, p.Body)
			}
			before := e.smtp.Count()
			p = shared.post(e.base+"/login", url.Values{"flow": {""}, "link": {tok(link)}})
			if p.StatusCode != http.StatusBadRequest {
				t.Errorf("a new link from the old one after its session ended = %d %q, want 400 asking for the address:\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
			}
			if n := e.smtp.Count(); n != before {
				t.Errorf("the old link mailed %d new links to %s after its session ended", n-before, email)
			}
		})
	}
}
