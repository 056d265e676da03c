package server

import (
	"bufio"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"loginsign/internal/oauth"
	"loginsign/internal/portal"
)

// npm openid-client (v6, the strictest relying-party library) runs LoginSign's whole flow with
// a real server, for an ES256 and an RS256 application, first while a key rotation is under way
// (new keys published, old ones signing), then once the new keys sign (old ones still
// published): discovery, authorization code with PKCE, nonce, state and RFC 9207 iss, id_token
// signatures checked against the JWKS, userinfo, refresh-token rotation, introspection,
// revocation, client_credentials, and RP-initiated logout back to the app. The second phase
// pushes its authorization requests (RFC 9126, openid-client's buildAuthorizationUrlWithPAR):
// the browser is sent only client_id and request_uri.
func TestOpenIDClientWholeFlow(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const bye = "https://app.example.test/bye"
		apps := map[string]testApp{}
		for _, alg := range []string{"ES256", "RS256"} {
			apps[alg] = e.createApp("Node App "+alg, rpCallback)
			e.updateApp(apps[alg], portal.ApplicationPatch{IDTokenSigningAlg: &alg, PostLogoutRedirectURIs: []string{bye}})
		}
		oldKids := e.publishedKids(t)
		newKids := e.rotateKeys(t)
		for _, phase := range []string{"rotation under way", "new keys signing"} {
			if phase == "new keys signing" {
				e.activateKeys(t, newKids)
			}
			for _, alg := range []string{"ES256", "RS256"} {
				t.Run(phase+"/"+alg, func(t *testing.T) {
					app := apps[alg]
					wantKid := newKids[alg]
					if phase == "rotation under way" {
						wantKid = oldKids[alg][0]
					}
					e.openIDClientFlow(t, app, alg, wantKid, bye, phase == "new keys signing", false)
				})
			}
		}
	})
}

// TestOpenIDClientTakesAFormPostAnswer: npm openid-client asks for response_mode=form_post,
// directly and in a pushed request (RFC 9126), and takes the code, state and iss (RFC 9207) it is
// posted through its whole flow, as it takes them from a query.
func TestOpenIDClientTakesAFormPostAnswer(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const bye = "https://app.example.test/bye"
		alg := "ES256"
		kid := e.publishedKids(t)[alg][0]
		for _, par := range []bool{false, true} {
			name := map[bool]string{false: "direct", true: "pushed"}[par]
			t.Run(name, func(t *testing.T) {
				// An app of its own each time: the consent page comes before the answer.
				app := e.createApp("Node App form_post "+name, rpCallback)
				e.updateApp(app, portal.ApplicationPatch{IDTokenSigningAlg: &alg, PostLogoutRedirectURIs: []string{bye}})
				e.openIDClientFlow(t, app, alg, kid, bye, par, true)
			})
		}
	})
}

// postedForm checks that p is the page of a form_post answer to redirectURI and returns the
// fields its form posts.
func postedForm(t testing.TB, p page, redirectURI string) url.Values {
	t.Helper()
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `<form method="post" action="`+html.EscapeString(redirectURI)+`" id="form-post">`) {
		t.Fatalf("want the page posting to %s, got %d at %s:\n%s", redirectURI, p.StatusCode, p.Request.URL, p.Body)
	}
	f := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.Body, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// openIDClientFlow runs openid-client-flow.mjs for app, pushing its authorization request when
// par is set and asking for response_mode=form_post when formPost is, and checks every step
// passed and the id_token was signed with alg by the key wantKid.
func (e *oauthEnv) openIDClientFlow(t *testing.T, app testApp, alg, wantKid, bye string, par, formPost bool) {
	t.Helper()
	out := e.runOpenIDClient(t, app, bye, par, formPost)

	var res struct {
		Steps []struct {
			Step  string
			OK    bool
			Error string
		}
		IDTokenAlg             string
		IDTokenKid             string
		Sub                    string
		EndSession             string
		ClientCredentialsToken string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("openid-client output %q: %v", out, err)
	}
	if len(res.Steps) != 7 {
		t.Fatalf("openid-client ran %d steps, want 7: %s", len(res.Steps), out)
	}
	for _, s := range res.Steps {
		if !s.OK {
			t.Errorf("openid-client %s: %s", s.Step, s.Error)
		}
	}
	if res.IDTokenAlg != alg || res.IDTokenKid != wantKid {
		t.Errorf("id_token signed %s by %s, want %s by %s", res.IDTokenAlg, res.IDTokenKid, alg, wantKid)
	}
	if res.ClientCredentialsToken != "" {
		if st, body, _ := e.appAPI(http.MethodGet, "/api/applications/"+app.ID+"/users", res.ClientCredentialsToken, ""); st != 200 {
			t.Errorf("app API with openid-client's client_credentials token: %d %s", st, body)
		}
	}
	if res.EndSession == "" {
		t.Fatal("no end-session URL")
	}
	p := e.lastBrowser.get(res.EndSession)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != bye+"?state=bye-state" {
		t.Fatalf("end session: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
}

// runOpenIDClient runs testdata/tooling/openid-client-flow.mjs for app: it prints the
// authorization URL, a fresh browser signs in and consents, the callback URL goes back to it,
// and its final JSON line is returned. The browser is kept in e.lastBrowser. With par the
// request is pushed, and the URL the browser gets must carry nothing else than the client and
// the request_uri. With formPost the answer is the page posting the code, whose form goes back
// to it instead of the callback URL.
func (e *oauthEnv) runOpenIDClient(t *testing.T, app testApp, postLogout string, par, formPost bool) []byte {
	t.Helper()
	node := nodeTooling(t)
	cmd := exec.Command(node, "openid-client-flow.mjs")
	cmd.Dir = toolingDir
	cmd.Env = append(os.Environ(), "ISSUER="+e.base, "CLIENT_ID="+app.ID, "CLIENT_SECRET="+app.Secret,
		"REDIRECT_URI="+app.Redirects[0], "POST_LOGOUT_REDIRECT_URI="+postLogout)
	if par {
		cmd.Env = append(cmd.Env, "PAR=1")
	}
	if formPost {
		cmd.Env = append(cmd.Env, "FORM_POST=1")
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadBytes('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("openid-client printed no authorization URL: %v\n%s", err, stderr.String())
	}
	var start struct{ Authorize string }
	if err := json.Unmarshal(first, &start); err != nil || !strings.HasPrefix(start.Authorize, e.base+"/oauth/authorize?") {
		t.Fatalf("openid-client authorization URL line %q", first)
	}
	if u, _ := url.Parse(start.Authorize); par {
		q := u.Query()
		if !strings.HasPrefix(q.Get("request_uri"), oauth.RequestURIPrefix) || q.Has("redirect_uri") || q.Has("state") || q.Has("code_challenge") {
			t.Fatalf("openid-client's pushed authorization URL %s: want client_id and a request_uri only", start.Authorize)
		}
	}
	b := e.browser()
	e.lastBrowser = b
	p := b.get(start.Authorize)
	if p.Request.URL.Path == "/login" {
		p = b.signIn(p, defaultTestEmail)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	if formPost {
		io.WriteString(stdin, postedForm(t, p, app.Redirects[0]).Encode()+"\n")
	} else {
		callback(t, p) // checks it is a redirect to the app
		io.WriteString(stdin, p.Header.Get("Location")+"\n")
	}
	stdin.Close()
	rest, _ := io.ReadAll(lines)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("openid-client: %v\nstdout:\n%s\nstderr:\n%s", err, rest, stderr.String())
	}
	return rest
}
