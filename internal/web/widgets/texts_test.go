package widgets_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestScriptTextsComplete: the texts loginsign.js writes on the app's page exist in every
// language it ships, with the keys of English, none empty.
func TestScriptTextsComplete(t *testing.T) {
	t.Parallel()
	js, err := os.ReadFile("files/v1/loginsign.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)var TEXTS = \{(.*?)\n  \};`).FindSubmatch(js)
	if block == nil {
		t.Fatal("no TEXTS in loginsign.js")
	}
	keys := map[string][]string{}
	for _, m := range regexp.MustCompile(`(?s)\b(\w\w): \{(.*?)\}`).FindAllSubmatch(block[1], -1) {
		var ks []string
		for _, kv := range regexp.MustCompile(`(\w+): "([^"]*)"`).FindAllSubmatch(m[2], -1) {
			if len(kv[2]) == 0 {
				t.Errorf("%s.%s is empty", m[1], kv[1])
			}
			ks = append(ks, string(kv[1]))
		}
		slices.Sort(ks)
		keys[string(m[1])] = ks
	}
	if len(keys["en"]) < 6 {
		t.Fatalf("English texts: %v", keys["en"])
	}
	for _, lang := range []string{"fr", "de"} {
		if !slices.Equal(keys[lang], keys["en"]) {
			t.Errorf("%s has keys %v, English %v", lang, keys[lang], keys["en"])
		}
	}
}

// domStub is the least of a browser loginsign.js needs, for node: elements made by node(tag),
// and stubDocument(lang, nav), a document whose <html lang> is lang in a browser whose
// language is nav. A program (runScript) calls stubDocument, then requires the script.
const domStub = `
function node(tag) {
  return { tag: tag, attrs: {}, children: [], className: "", textContent: "",
    setAttribute(k, v) { this.attrs[k] = v; }, appendChild(c) { this.children.push(c); return c; },
    addEventListener() {}, classList: { add() {}, remove() {} } };
}
function stubDocument(lang, nav) {
  globalThis.document = { currentScript: { src: "https://ls.example/widgets/v1/loginsign.js" }, readyState: "complete",
    documentElement: { lang: lang }, head: node("head"), querySelector() { return null; }, querySelectorAll() { return []; },
    createElement: node };
  Object.defineProperty(globalThis, "navigator", { value: { language: nav }, configurable: true });
  globalThis.sessionStorage = { setItem() {} };
  globalThis.window = globalThis;
  globalThis.addEventListener = function () {};
}
`

// runScript runs program (after domStub) in node with loginsign.js as process.argv[1] and
// args after it, and returns what it printed. Without node the test is skipped: the
// environment lacks it.
func runScript(t *testing.T, program string, args ...string) []byte {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nodeBin, append([]string{"-e", domStub + program, dir + "/files/v1/loginsign.js"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return out
}

// textsProgram renders every widget and prints what they wrote, for <html lang> argv[2],
// navigator.language argv[3] and the locale option argv[4].
const textsProgram = `
const lang = process.argv[2], nav = process.argv[3], locale = process.argv[4];
stubDocument(lang, nav);
require(process.argv[1]);
const opts = { clientId: "app_1", redirectUri: "https://app.example/cb", name: "Ann", logoutUrl: "/out" };
if (locale) opts.locale = locale;
const text = n => [n.textContent, n.title || "", n.attrs["aria-label"] || ""].concat(n.children.map(text)).join("|");
const out = {};
for (const w of ["button", "banner", "login-page", "user-menu"]) out[w] = text(LoginSign.render(node("div"), Object.assign({ widget: w }, opts)));
console.log(JSON.stringify(out));
`

// TestScriptTextsLanguage: the widgets' own texts (button label, iframe titles, the user
// menu) follow the locale option, then the page's <html lang>, then the browser's language,
// English when none is supported. Run in node with a stand-in DOM.
func TestScriptTextsLanguage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		htmlLang, nav, locale string
		want                  []string
	}{
		{"", "en-US", "", []string{"Sign in with LoginSign", "Continue with LoginSign", "Ann, account menu", "LoginSign account", "Sign out"}},
		{"en", "de-DE", "fr-CA de", []string{"Se connecter avec LoginSign", "Continuer avec LoginSign", "Ann, menu du compte", "Compte LoginSign", "Se déconnecter"}},
		{"de-AT", "fr", "", []string{"Mit LoginSign anmelden", "Weiter mit LoginSign", "Ann, Kontomenü", "LoginSign-Konto", "Abmelden"}},
		{"", "fr-BE", "ja", []string{"Se connecter avec LoginSign", "Continuer avec LoginSign"}},
		{"ja", "pt-BR", "", []string{"Sign in with LoginSign", "Continue with LoginSign", "Sign out"}},
	} {
		out := runScript(t, textsProgram, c.htmlLang, c.nav, c.locale)
		var got map[string]string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		all := strings.Join([]string{got["button"], got["banner"], got["login-page"], got["user-menu"]}, "|")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("lang=%q navigator=%q locale=%q: no %q in %v", c.htmlLang, c.nav, c.locale, w, got)
			}
		}
		if !strings.Contains(got["banner"], c.want[1]) {
			t.Errorf("banner iframe title = %q, want %q", got["banner"], c.want[1])
		}
	}
}
