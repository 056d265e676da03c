package oauth

import (
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Quickstart is what a developer pastes to sign people in to one application: the endpoints
// and three complete programs (Node openid-client v6, Python Authlib, Go x/oauth2 + go-oidc)
// that run the authorization code flow with PKCE, nonce and state, verify the id_token and call
// userinfo. Nothing secret is in it: the programs read the client secret from the
// LOGINSIGN_CLIENT_SECRET environment variable, and the curl line expands it there.
type Quickstart struct {
	Issuer       string
	DiscoveryURL string
	// RedirectURI is the application's first redirect URI (ExampleRedirectURI when it has none).
	RedirectURI string
	// AuthorizeURL is prefilled but for STATE, NONCE and CODE_CHALLENGE, which a client makes
	// fresh for every sign-in (the programs below do).
	AuthorizeURL string
	// TokenCurl exchanges a code (CODE and CODE_VERIFIER placeholders) at the token endpoint.
	TokenCurl string
	// ClientCredentialsCurl gets an app-backend token (client_credentials).
	ClientCredentialsCurl string
	Node, Python, Go      string
}

// ExampleRedirectURI stands in for the redirect URI of an application that has none yet.
const ExampleRedirectURI = "https://yourapp.example/callback"

// QuickstartFor builds the Quickstart of the client clientID whose registered redirect URIs
// are redirectURIs, from the provider metadata d (Service.Discovery). It is the one place the
// portal, GraphQL (Application.quickstart) and the README's examples come from. For a client
// that requires pushed authorization requests (pushed), the programs push each request to
// d's PAR endpoint and send the browser only its request_uri, and AuthorizeURL carries
// REQUEST_URI instead of the request.
func QuickstartFor(d Discovery, clientID string, redirectURIs []string, pushed bool) Quickstart {
	redirect := ExampleRedirectURI
	if len(redirectURIs) > 0 {
		redirect = redirectURIs[0]
	}
	scope := strings.Join([]string{ScopeOpenID, ScopeEmail, ScopeProfile}, " ")
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"STATE"}, "nonce": {"NONCE"}, "code_challenge": {"CODE_CHALLENGE"}, "code_challenge_method": {"S256"},
	}
	discovery := d.Issuer + "/.well-known/openid-configuration"
	out := Quickstart{Issuer: d.Issuer, DiscoveryURL: discovery, RedirectURI: redirect,
		AuthorizeURL: d.AuthorizationEndpoint + "?" + q.Encode()}
	if pushed {
		out.AuthorizeURL = d.AuthorizationEndpoint + "?" + url.Values{"client_id": {clientID}, "request_uri": {"REQUEST_URI"}}.Encode()
	}
	out.TokenCurl = "curl -sS " + shellQuote(d.TokenEndpoint) + " \\\n" +
		"  -u " + shellQuote(clientID) + `":$LOGINSIGN_CLIENT_SECRET"` + " \\\n" +
		"  -d grant_type=authorization_code \\\n" +
		"  --data-urlencode code=CODE \\\n" +
		"  --data-urlencode " + shellQuote("redirect_uri="+redirect) + " \\\n" +
		"  --data-urlencode code_verifier=CODE_VERIFIER"
	out.ClientCredentialsCurl = "curl -sS " + shellQuote(d.TokenEndpoint) + " \\\n" +
		"  -u " + shellQuote(clientID) + `":$LOGINSIGN_CLIENT_SECRET"` + " \\\n" +
		"  -d grant_type=client_credentials \\\n" +
		"  -d " + shellQuote("scope="+strings.Join(AppScopes, " "))

	// The programs listen where the redirect URI points when it is on this machine, else on
	// :8080 behind the application's HTTPS front end.
	path, host, port := "/callback", "", "8080"
	if ru, err := url.Parse(redirect); err == nil {
		if ru.Path != "" {
			path = ru.Path
		}
		if h := ru.Hostname(); h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
			host, port = h, ru.Port()
			if port == "" {
				port = "80"
			}
		}
	}
	// open is where the developer starts a sign-in: the program itself on this machine, else
	// the application's site (whose front end forwards to the program's port).
	open, hostArg := "", ""
	if ru, err := url.Parse(redirect); err == nil {
		open = ru.Scheme + "://" + ru.Host
	}
	if host != "" {
		open, hostArg = "http://"+net.JoinHostPort(host, port), ", "+jsString(host)
	}
	r := strings.NewReplacer(
		"{ISSUER_JS}", jsString(d.Issuer), "{CLIENT_JS}", jsString(clientID), "{REDIRECT_JS}", jsString(redirect),
		"{PATH_JS}", jsString(path), "{PORT}", port, "{OPEN}", open, "{HOST_ARG}", hostArg, "{DISCOVERY_JS}", jsString(discovery),
		"{ISSUER_GO}", strconv.Quote(d.Issuer), "{CLIENT_GO}", strconv.Quote(clientID), "{REDIRECT_GO}", strconv.Quote(redirect),
		"{PATH_GO}", strconv.Quote(path), "{LISTEN_GO}", strconv.Quote(net.JoinHostPort(host, port)), "{SCOPE}", scope,
	)
	insecure := strings.HasPrefix(d.Issuer, "http://")
	node := nodeQuickstart
	if insecure {
		node = strings.Replace(node, "process.env.LOGINSIGN_CLIENT_SECRET);",
			"process.env.LOGINSIGN_CLIENT_SECRET, undefined,\n  { execute: [client.allowInsecureRequests] }); // this LoginSign is served over http (development)", 1)
	}
	python, golang := pythonQuickstart, goQuickstart
	if pushed {
		node = strings.Replace(node, nodeAuthorize, nodePushed, 1)
		python = strings.NewReplacer(pythonImports, pythonPushedImports, pythonFlask, pythonFlask[:len(pythonFlask)-1]+", redirect\n",
			pythonLogin, pythonPushedLogin).Replace(python)
		golang = strings.NewReplacer(goImports, goPushedImports, goVerifier, goVerifier+goPushedEndpoint, goRedirect, goPushedRedirect).Replace(golang)
	}
	out.Node = r.Replace(node)
	out.Python = r.Replace(python)
	out.Go = r.Replace(golang)
	return out
}

// Quickstart is QuickstartFor with this provider's metadata.
func (s *Service) Quickstart(clientID string, redirectURIs []string, pushed bool) Quickstart {
	return QuickstartFor(s.Discovery(), clientID, redirectURIs, pushed)
}

// What the programs do differently for a client that requires pushed authorization requests
// (RFC 9126): each replaces the line or block before it in the program above.
const (
	nodeAuthorize = `      const authorize = client.buildAuthorizationUrl(config, {`
	nodePushed    = `      // This application requires pushed authorization requests (RFC 9126): the request goes
      // to LoginSign from here, the browser gets only its request_uri.
      const authorize = await client.buildAuthorizationUrlWithPAR(config, {`

	pythonImports       = "import os\n"
	pythonPushedImports = "import os\nfrom urllib.parse import parse_qsl, urlencode, urlsplit\n\nimport requests\n"
	pythonFlask         = "from flask import Flask, jsonify\n"
	pythonLogin         = `    return oauth.loginsign.authorize_redirect({REDIRECT_JS})`
	pythonPushedLogin   = `    # This application requires pushed authorization requests (RFC 9126): the request goes to
    # LoginSign from here, the browser gets only its request_uri.
    loginsign = oauth.loginsign
    rv = loginsign.create_authorization_url({REDIRECT_JS})
    loginsign.save_authorize_data(redirect_uri={REDIRECT_JS}, **rv)
    meta = loginsign.load_server_metadata()
    pushed = requests.post(meta["pushed_authorization_request_endpoint"], data=dict(parse_qsl(urlsplit(rv["url"]).query)),
                           auth=(loginsign.client_id, loginsign.client_secret), timeout=10)
    pushed.raise_for_status()
    return redirect(meta["authorization_endpoint"] + "?" + urlencode({"client_id": loginsign.client_id, "request_uri": pushed.json()["request_uri"]}))`

	goImports        = "\t\"net/http\"\n\t\"os\"\n"
	goPushedImports  = "\t\"net/http\"\n\t\"net/url\"\n\t\"os\"\n\t\"strings\"\n"
	goVerifier       = "\tverifier := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}) // ES256 or RS256, from discovery\n"
	goPushedEndpoint = `	// This application requires pushed authorization requests (RFC 9126): each request goes to
	// LoginSign from here, the browser gets only its request_uri.
	var meta map[string]any
	if err := provider.Claims(&meta); err != nil {
		log.Fatal(err)
	}
	parEndpoint, _ := meta["pushed_authorization_request_endpoint"].(string)
`
	goRedirect       = "\t\thttp.Redirect(w, r, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce(nonce)), http.StatusFound)\n"
	goPushedRedirect = `		u, _ := url.Parse(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce(nonce)))
		push, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, parEndpoint, strings.NewReader(u.Query().Encode()))
		push.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		push.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
		resp, err := http.DefaultClient.Do(push)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var pushed map[string]any
		requestURI := ""
		if json.NewDecoder(resp.Body).Decode(&pushed) == nil {
			requestURI, _ = pushed["request_uri"].(string)
		}
		if resp.StatusCode != http.StatusCreated || requestURI == "" {
			http.Error(w, "pushing the authorization request: "+resp.Status, http.StatusBadGateway)
			return
		}
		u.RawQuery = url.Values{"client_id": {conf.ClientID}, "request_uri": {requestURI}}.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
`
)

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

const nodeQuickstart = `// Sign in with LoginSign: npm install openid-client@6 (Node 20+), save as signin.mjs,
// run LOGINSIGN_CLIENT_SECRET=... node signin.mjs (it listens on port {PORT}) and open {OPEN}/.
import * as client from 'openid-client';
import http from 'node:http';

const config = await client.discovery(new URL({ISSUER_JS}), {CLIENT_JS}, process.env.LOGINSIGN_CLIENT_SECRET);
const redirectUri = {REDIRECT_JS};
const pending = new Map(); // state -> { verifier, nonce }: keep it in your session store

http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, redirectUri);
    if (url.pathname !== {PATH_JS}) {
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const state = client.randomState();
      pending.set(state, { verifier, nonce });
      const authorize = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri, scope: '{SCOPE}', state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      res.writeHead(302, { location: authorize.href }).end();
      return;
    }
    const state = url.searchParams.get('state');
    const p = pending.get(state);
    pending.delete(state);
    if (!p) throw new Error('unknown state');
    const tokens = await client.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: p.verifier, expectedNonce: p.nonce, expectedState: state, idTokenExpected: true,
    });
    const claims = tokens.claims(); // the id_token, verified: iss, aud, exp, nonce
    const user = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(user));
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
  }
}).listen({PORT}{HOST_ARG});
`

const pythonQuickstart = `# Sign in with LoginSign: pip install Authlib Flask requests, save as signin.py,
# run LOGINSIGN_CLIENT_SECRET=... FLASK_SECRET_KEY=... flask --app signin run --port {PORT}
# and open {OPEN}/login.
import os

from authlib.integrations.flask_client import OAuth
from flask import Flask, jsonify

app = Flask(__name__)
app.secret_key = os.environ["FLASK_SECRET_KEY"]  # signs the session that holds state, nonce and PKCE verifier
oauth = OAuth(app)
oauth.register(
    "loginsign",
    client_id={CLIENT_JS},
    client_secret=os.environ["LOGINSIGN_CLIENT_SECRET"],
    server_metadata_url={DISCOVERY_JS},
    client_kwargs={"scope": "{SCOPE}", "code_challenge_method": "S256"},
)


@app.route("/login")
def login():
    return oauth.loginsign.authorize_redirect({REDIRECT_JS})


@app.route({PATH_JS})
def callback():
    token = oauth.loginsign.authorize_access_token()  # checks state, sends the verifier, verifies the id_token
    return jsonify(oauth.loginsign.userinfo(token=token))
`

const goQuickstart = `// Sign in with LoginSign (Go 1.24+): go get golang.org/x/oauth2 github.com/coreos/go-oidc/v3, then
// LOGINSIGN_CLIENT_SECRET=... go run . (it listens on port {PORT}) and open {OPEN}/.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type pending struct{ verifier, nonce string }

func main() {
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, {ISSUER_GO})
	if err != nil {
		log.Fatal(err)
	}
	conf := &oauth2.Config{
		ClientID:     {CLIENT_GO},
		ClientSecret: os.Getenv("LOGINSIGN_CLIENT_SECRET"),
		Endpoint:     provider.Endpoint(),
		RedirectURL:  {REDIRECT_GO},
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}) // ES256 or RS256, from discovery
	var mu sync.Mutex
	states := map[string]pending{} // keep it in your session store

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, v := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		mu.Lock()
		states[state] = pending{v, nonce}
		mu.Unlock()
		http.Redirect(w, r, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce(nonce)), http.StatusFound)
	})
	http.HandleFunc({PATH_GO}, func(w http.ResponseWriter, r *http.Request) {
		state := r.URL.Query().Get("state")
		mu.Lock()
		p, ok := states[state]
		delete(states, state)
		mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(p.verifier))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idToken, err := verifier.Verify(r.Context(), raw)
		if err != nil || idToken.Nonce != p.nonce {
			http.Error(w, "id_token does not verify", http.StatusBadRequest)
			return
		}
		info, err := provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idToken.Subject {
			http.Error(w, "userinfo failed", http.StatusBadGateway)
			return
		}
		var claims map[string]any
		info.Claims(&claims)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(claims)
	})
	log.Fatal(http.ListenAndServe({LISTEN_GO}, nil))
}
`
