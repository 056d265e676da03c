package widgets_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// bindingProgram prints, as JSON, the URLs the widgets start the sign-in with:
// LoginSign.authorizeURL, the button's href and the login page's iframe, for the options
// argv[2] (JSON), and the login page scanned from data- attributes argv[3] (JSON, name → value).
const bindingProgram = `
stubDocument("en", "en");
require(process.argv[1]);
const opts = Object.assign({ clientId: "app_1", redirectUri: "https://app.example/cb" }, JSON.parse(process.argv[2]));
const out = {
  authorize: LoginSign.authorizeURL(opts),
  button: LoginSign.render(node("div"), Object.assign({ widget: "button" }, opts)).href,
  loginPage: LoginSign.render(node("div"), Object.assign({ widget: "login-page" }, opts)).src,
};
const tagged = node("div");
tagged.attributes = Object.entries(Object.assign({ "data-loginsign-login-page": "", "data-client-id": "app_1",
  "data-redirect-uri": "https://app.example/cb" }, JSON.parse(process.argv[3]))).map(([name, value]) => ({ name, value }));
LoginSign.scan({ querySelectorAll(sel) { return sel.indexOf("[data-loginsign-login-page]") === 0 ? [tagged] : []; } });
out.scanned = tagged.children.length ? tagged.children[0].src : "";
console.log(JSON.stringify(out));
`

// TestTheWidgetScriptPassesTheAppsPKCEChallengeAndNonce: an app that binds its codes to a PKCE
// verifier and its id_tokens to a nonce gives the widget the challenge and the nonce (options
// codeChallenge, codeChallengeMethod, nonce; data-code-challenge, data-code-challenge-method,
// data-nonce). Every way the script starts a sign-in carries them: the authorize URL (button,
// banner) and the login page's iframe (/embed/login). The method is S256 unless given; without
// a challenge or a nonce, the URLs hold none.
func TestTheWidgetScriptPassesTheAppsPKCEChallengeAndNonce(t *testing.T) {
	t.Parallel()
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, c := range []struct {
		name       string
		opts, data map[string]string
		want       map[string]string // parameter → value; "" means absent
	}{
		{"challenge and nonce, method defaults to S256",
			map[string]string{"codeChallenge": challenge, "nonce": "n-0S6_WzA2Mj"},
			map[string]string{"data-code-challenge": challenge, "data-nonce": "n-0S6_WzA2Mj"},
			map[string]string{"code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n-0S6_WzA2Mj"}},
		{"the method as given, for the server to judge",
			map[string]string{"codeChallenge": challenge, "codeChallengeMethod": "plain"},
			map[string]string{"data-code-challenge": challenge, "data-code-challenge-method": "plain"},
			map[string]string{"code_challenge": challenge, "code_challenge_method": "plain", "nonce": ""}},
		{"nonce only",
			map[string]string{"nonce": "n-1"}, map[string]string{"data-nonce": "n-1"},
			map[string]string{"code_challenge": "", "code_challenge_method": "", "nonce": "n-1"}},
		{"neither", map[string]string{}, map[string]string{},
			map[string]string{"code_challenge": "", "code_challenge_method": "", "nonce": ""}},
	} {
		opts, _ := json.Marshal(c.opts)
		data, _ := json.Marshal(c.data)
		out := runScript(t, bindingProgram, string(opts), string(data))
		var got map[string]string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %s: %v", c.name, out, err)
		}
		for _, w := range []struct{ which, path string }{
			{"authorize", "/oauth/authorize"}, {"button", "/oauth/authorize"}, {"loginPage", "/embed/login"}, {"scanned", "/embed/login"},
		} {
			u, err := url.Parse(got[w.which])
			if err != nil || u.Host != "ls.example" || u.Path != w.path {
				t.Errorf("%s: %s URL %q, want https://ls.example%s?…", c.name, w.which, got[w.which], w.path)
				continue
			}
			q := u.Query()
			if q.Get("client_id") != "app_1" || q.Get("state") == "" {
				t.Errorf("%s: %s URL %q lost client_id or state", c.name, w.which, u)
			}
			for k, v := range c.want {
				if q.Get(k) != v || (v == "" && q.Has(k)) || len(q[k]) > 1 {
					t.Errorf("%s: %s URL has %s=%q, want %q: %s", c.name, w.which, k, q[k], v, strings.TrimPrefix(u.RawQuery, "?"))
				}
			}
		}
	}
}
