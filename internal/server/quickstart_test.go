package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"loginsign/internal/oauth"
	"loginsign/internal/portal"

	"loginsign/internal/server/servertest"
)

// quickstartApp registers an application whose first redirect URI is a free loopback port, where
// a quickstart program will listen, and returns it with its quickstart; pushed makes it require
// pushed authorization requests.
func (e *oauthEnv) quickstartApp(t *testing.T, name string, pushed bool) (testApp, oauth.Quickstart, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	app := e.createApp(name, "http://"+addr+"/callback")
	if pushed {
		e.updateApp(app, portal.ApplicationPatch{RequirePushedAuthorizationRequests: &pushed})
	}
	return app, e.srv.oauth.Quickstart(app.ID, app.Redirects, pushed), "http://" + addr
}

// signInThrough runs a whole sign-in through a quickstart program listening at appBase: its
// start page sends the browser to LoginSign, the person signs in and consents, the callback goes
// back to the program, which answers with the userinfo claims it fetched.
func (e *oauthEnv) signInThrough(t *testing.T, appBase string, start string, logs func() string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(appBase, "http://"))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program never listened on %s:\n%s", appBase, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b := e.browser()
	p := b.get(appBase + start)
	if p.Request.URL.Path == "/login" {
		p = b.signIn(p, defaultTestEmail)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	callback(t, p)
	resp, err := http.Get(p.Header.Get("Location"))
	if err != nil {
		t.Fatalf("callback: %v\n%s", err, logs())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var claims map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &claims) != nil {
		t.Fatalf("the program's callback answered %d %s\n%s", resp.StatusCode, body, logs())
	}
	if sub, _ := claims["sub"].(string); sub == "" || claims["email"] == nil {
		t.Fatalf("userinfo through the program: %v", claims)
	}
	return claims
}

// start runs cmd until the test ends, collecting its output.
func startProgram(t *testing.T, cmd *exec.Cmd) func() string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return func() string { return out.String() }
}

// The quickstart is what the portal shows for an application: its endpoints, a prefilled
// authorize URL, curl lines and three programs.
func TestQuickstartOfAnApplication(t *testing.T) {
	d := oauth.Discovery{Issuer: "https://id.example", AuthorizationEndpoint: "https://id.example/oauth/authorize",
		TokenEndpoint: "https://id.example/oauth/token"}
	q := oauth.QuickstartFor(d, "app_123", []string{"https://shop.example/auth/cb", "https://shop.example/other"}, false)
	if q.DiscoveryURL != "https://id.example/.well-known/openid-configuration" || q.RedirectURI != "https://shop.example/auth/cb" {
		t.Fatalf("%+v", q)
	}
	u, err := url.Parse(q.AuthorizeURL)
	if err != nil || u.Host != "id.example" || u.Path != "/oauth/authorize" {
		t.Fatalf("authorize URL %q", q.AuthorizeURL)
	}
	v := u.Query()
	for k, want := range map[string]string{"client_id": "app_123", "redirect_uri": "https://shop.example/auth/cb", "response_type": "code",
		"scope": "openid email profile", "code_challenge_method": "S256", "code_challenge": "CODE_CHALLENGE", "state": "STATE", "nonce": "NONCE"} {
		if v.Get(k) != want {
			t.Errorf("authorize URL %s = %q, want %q", k, v.Get(k), want)
		}
	}
	for _, s := range []string{q.TokenCurl, q.ClientCredentialsCurl} {
		if !strings.Contains(s, `-u 'app_123'":$LOGINSIGN_CLIENT_SECRET"`) || !strings.Contains(s, "'https://id.example/oauth/token'") {
			t.Errorf("curl line:\n%s", s)
		}
	}
	for name, prog := range map[string]string{"node": q.Node, "python": q.Python, "go": q.Go} {
		if !strings.Contains(prog, `"app_123"`) || !strings.Contains(prog, "LOGINSIGN_CLIENT_SECRET") || !strings.Contains(prog, "/auth/cb") {
			t.Errorf("%s program lacks the client id, the secret's variable or the callback path:\n%s", name, prog)
		}
		if strings.Contains(prog, "allowInsecureRequests") {
			t.Errorf("%s program allows http for an https issuer", name)
		}
	}
	// A quote in a redirect URI cannot break out of the shell's quotes.
	q = oauth.QuickstartFor(d, "app_123", []string{"https://shop.example/cb?x='$(id)'"}, false)
	if !strings.Contains(q.TokenCurl, `'redirect_uri=https://shop.example/cb?x='\''$(id)'\'''`) {
		t.Errorf("curl quoting:\n%s", q.TokenCurl)
	}
	if q := oauth.QuickstartFor(d, "app_1", nil, false); q.RedirectURI != oauth.ExampleRedirectURI {
		t.Errorf("no redirect URI: %q", q.RedirectURI)
	}
}

// The Node quickstart (npm openid-client v6), pasted unmodified, signs a person in against a
// live server: discovery, PKCE, nonce, state, id_token verification and userinfo.
func TestQuickstartNodeProgramSignsIn(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		for _, pushed := range []bool{false, true} {
			t.Run(fmt.Sprintf("pushed=%v", pushed), func(t *testing.T) { nodeQuickstartSignsIn(t, dbURL, pushed) })
		}
	})
}

// nodeQuickstartSignsIn runs the Node quickstart of an application (one that requires pushed
// requests when pushed) and signs a person in through it.
func nodeQuickstartSignsIn(t *testing.T, dbURL string, pushed bool) {
	e := newOAuthEnv(t, dbURL)
	app, q, appBase := e.quickstartApp(t, "Node Quickstart", pushed)
	nodeTooling(t)
	script := fmt.Sprintf("quickstart-%d.mjs", time.Now().UnixNano())
	path := filepath.Join(toolingDir, script)
	if err := os.WriteFile(path, []byte(q.Node), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	cmd := exec.Command("node", script)
	cmd.Dir = toolingDir
	cmd.Env = append(os.Environ(), "LOGINSIGN_CLIENT_SECRET="+app.Secret)
	logs := startProgram(t, cmd)
	e.signInThrough(t, appBase, "/", logs)
}

// The Go quickstart (golang.org/x/oauth2 + go-oidc), pasted into a fresh module, passes go vet,
// builds with the versions this repository pins, and signs a person in against a live server.
func TestQuickstartGoProgramBuildsAndSignsIn(t *testing.T) {
	dir := t.TempDir()
	forBackends(t, func(t *testing.T, dbURL string) {
		for _, pushed := range []bool{false, true} {
			t.Run(fmt.Sprintf("pushed=%v", pushed), func(t *testing.T) {
				e := newOAuthEnv(t, dbURL)
				app, q, appBase := e.quickstartApp(t, "Go Quickstart", pushed)
				bin := buildGoQuickstart(t, dir, q.Go)
				cmd := exec.Command(bin)
				cmd.Env = append(os.Environ(), "LOGINSIGN_CLIENT_SECRET="+app.Secret)
				logs := startProgram(t, cmd)
				e.signInThrough(t, appBase, "/", logs)
			})
		}
	})
}

var requireRe = regexp.MustCompile(`(?m)^\s*(golang\.org/x/oauth2|github\.com/coreos/go-oidc/v3|github\.com/go-jose/go-jose/v4) (v\S+)`)

// buildGoQuickstart writes src as main.go of a new module in dir requiring the oauth2 and
// go-oidc versions of this repository's go.mod, vets and builds it offline from the module
// cache (GOFLAGS=-mod=mod, GOPROXY=off), and returns the binary.
func buildGoQuickstart(t *testing.T, dir, src string) string {
	t.Helper()
	mod, err := os.ReadFile(servertest.Path("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var req strings.Builder
	for _, m := range requireRe.FindAllStringSubmatch(string(mod), -1) {
		fmt.Fprintf(&req, "\t%s %s\n", m[1], m[2])
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module quickstart\n\ngo 1.24\n\nrequire (\n"+req.String()+")\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(servertest.Path("go.sum"))
	os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o600)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "quickstart")
	for _, args := range [][]string{{"vet", "."}, {"build", "-o", bin, "."}} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the quickstart module: %v\n%s\n%s", strings.Join(args, " "), err, out, src)
		}
	}
	return bin
}

// The Python quickstart (Authlib with Flask) is valid Python. PyPI is not reachable where
// these tests run, so Authlib itself cannot be installed and the program is not run here.
func TestQuickstartPythonProgramCompiles(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	for _, pushed := range []bool{false, true} {
		q := oauth.QuickstartFor(oauth.Discovery{Issuer: "http://127.0.0.1:8080", AuthorizationEndpoint: "http://127.0.0.1:8080/oauth/authorize",
			TokenEndpoint: "http://127.0.0.1:8080/oauth/token"}, "app_1", []string{"http://127.0.0.1:5000/callback"}, pushed)
		path := filepath.Join(t.TempDir(), "signin.py")
		os.WriteFile(path, []byte(q.Python), 0o600)
		if out, err := exec.Command(py, "-m", "py_compile", path).CombinedOutput(); err != nil {
			t.Fatalf("py_compile (pushed %v): %v\n%s\n%s", pushed, err, out, q.Python)
		}
		if strings.Contains(q.Python, "pushed_authorization_request_endpoint") != pushed {
			t.Errorf("pushed %v: the Python program pushes its requests: %v", pushed, !pushed)
		}
	}
}

// Application.quickstart answers the owner with the one domain function's output, built for the
// application's first redirect URI; a person who reaches the application through their own
// connection gets not_found, like every owner-only field.
func TestQuickstartInGraphQL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("dev@example.com", "Dana Developer", true)
		app := dev.createApp("Shop", false)
		customer := e.person("customer@example.com", "Casey Customer", true)
		e.connect(customer, app)
		got := dev.mustGQL(`query($id: ID!) { application(id: $id) { quickstart { issuer discoveryUrl redirectUri authorizeUrl tokenCurl clientCredentialsCurl node python go } } }`,
			map[string]any{"id": app})["application"].(map[string]any)["quickstart"].(map[string]any)
		want := e.srv.oauth.Quickstart(app, []string{"https://shop.example.com/cb"}, false)
		for k, v := range map[string]string{"issuer": want.Issuer, "discoveryUrl": want.DiscoveryURL, "redirectUri": want.RedirectURI,
			"authorizeUrl": want.AuthorizeURL, "tokenCurl": want.TokenCurl, "clientCredentialsCurl": want.ClientCredentialsCurl,
			"node": want.Node, "python": want.Python, "go": want.Go} {
			if got[k] != v {
				t.Errorf("quickstart.%s = %q, want %q", k, got[k], v)
			}
		}
		r := customer.gql(`{ viewer { connections(first: 5) { edges { node { application { id quickstart { issuer } } } } } } }`, nil)
		if r.code() != "not_found" {
			t.Fatalf("a connected person reads the quickstart: %+v", r)
		}
	})
}

// readmeQuickstart is the quickstart the README shows, for placeholder values.
func readmeQuickstart() oauth.Quickstart {
	iss := "https://loginsign.example"
	return oauth.QuickstartFor(oauth.Discovery{Issuer: iss, AuthorizationEndpoint: iss + "/oauth/authorize", TokenEndpoint: iss + "/oauth/token"},
		"app_YOUR_CLIENT_ID", []string{"https://yourapp.example/callback"}, false)
}

// The README's examples are the domain function's output, verbatim, so they stay what the
// portal shows and what the tests above run.
func TestReadmeQuickstartIsTheDomainFunctions(t *testing.T) {
	b, err := os.ReadFile(servertest.Path("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	q := readmeQuickstart()
	for name, s := range map[string]string{"authorize URL": q.AuthorizeURL, "token curl": q.TokenCurl,
		"client_credentials curl": q.ClientCredentialsCurl, "Node": q.Node, "Python": q.Python, "Go": q.Go} {
		if !strings.Contains(string(b), s) {
			t.Errorf("README.md lacks the %s of oauth.QuickstartFor; it is:\n%s", name, s)
		}
	}
}
