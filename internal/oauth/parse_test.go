package oauth

import (
	"encoding/base64"
	"maps"
	"net/url"
	"strings"
	"testing"
)

func TestMatchRedirectURI(t *testing.T) {
	t.Parallel()
	registered := []string{"https://app.example.com/cb", "http://127.0.0.1/native", "http://[::1]:8080/v6", "com.example.app:/oauth"}
	tests := []struct {
		name, uri, want string
	}{
		{"exact", "https://app.example.com/cb", "https://app.example.com/cb"},
		{"private-use scheme exact", "com.example.app:/oauth", "com.example.app:/oauth"},
		{"trailing slash", "https://app.example.com/cb/", ""},
		{"case of host", "https://App.example.com/cb", ""},
		{"default port", "https://app.example.com:443/cb", ""},
		{"query added", "https://app.example.com/cb?x=1", ""},
		{"empty query marker", "https://app.example.com/cb?", ""},
		{"fragment", "https://app.example.com/cb#f", ""},
		{"userinfo", "https://evil@app.example.com/cb", ""},
		{"loopback any port", "http://127.0.0.1:61000/native", "http://127.0.0.1/native"},
		{"loopback no port", "http://127.0.0.1/native", "http://127.0.0.1/native"},
		{"loopback other path", "http://127.0.0.1:61000/native/x", ""},
		{"loopback query added", "http://127.0.0.1:61000/native?x", ""},
		{"loopback userinfo", "http://u@127.0.0.1:61000/native", ""},
		{"loopback bad port", "http://127.0.0.1:0x50/native", ""},
		{"loopback https not exempt", "https://127.0.0.1:61000/native", ""},
		{"ipv6 loopback any port", "http://[::1]:9999/v6", "http://[::1]:8080/v6"},
		{"localhost is not 127.0.0.1", "http://localhost:61000/native", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MatchRedirectURI(registered, tt.uri)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("MatchRedirectURI(%q) = %q, %v; want %q", tt.uri, got, ok, tt.want)
			}
		})
	}
}

func TestParseAuthorizeRequest(t *testing.T) {
	t.Parallel()
	challenge := S256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	base := func() url.Values {
		return url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"code"}}
	}
	tests := []struct {
		name     string
		change   func(url.Values)
		code     string
		redirect bool
	}{
		{"minimal", func(url.Values) {}, "", false},
		{"missing client_id", func(q url.Values) { q.Del("client_id") }, InvalidRequest, false},
		{"repeated client_id", func(q url.Values) { q.Add("client_id", "app_y") }, InvalidRequest, false},
		{"missing redirect_uri", func(q url.Values) { q.Del("redirect_uri") }, InvalidRequest, false},
		{"repeated redirect_uri", func(q url.Values) { q.Add("redirect_uri", "https://b.example") }, InvalidRequest, false},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, UnsupportedResponseType, true},
		{"unknown scope", func(q url.Values) { q.Set("scope", "openid offline_access") }, InvalidScope, true},
		{"plain", func(q url.Values) { q.Set("code_challenge", challenge); q.Set("code_challenge_method", "plain") }, InvalidRequest, true},
		{"S256", func(q url.Values) { q.Set("code_challenge", challenge); q.Set("code_challenge_method", "S256") }, "", false},
		{"method without challenge", func(q url.Values) { q.Set("code_challenge_method", "S256") }, InvalidRequest, true},
		{"request object", func(q url.Values) { q.Set("request", "eyJ") }, "request_not_supported", true},
		{"request object by reference", func(q url.Values) { q.Set("request_uri", "https://rp.example/req.jwt") }, "request_uri_not_supported", true},
		{"fragment response mode", func(q url.Values) { q.Set("response_mode", "fragment") }, InvalidRequest, true},
		{"prompt none and login", func(q url.Values) { q.Set("prompt", "none login") }, InvalidRequest, true},
		{"long state", func(q url.Values) { q.Set("state", strings.Repeat("s", 2000)) }, InvalidRequest, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base()
			tt.change(q)
			r, err := ParseAuthorizeRequest(q)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if strings.Join(r.Scopes, " ") != "openid email profile" {
					t.Fatalf("default scopes %v", r.Scopes)
				}
				return
			}
			e := AsError(err)
			if err == nil || e.Code != tt.code || e.Redirect != tt.redirect {
				t.Fatalf("err = %v (redirect %v), want %s (redirect %v)", err, e.Redirect, tt.code, tt.redirect)
			}
		})
	}
}

func TestParseBasic(t *testing.T) {
	t.Parallel()
	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header, id, secret string
		basic, fails             bool
	}{
		{"plain", enc("app_x:lss_secret"), "app_x", "lss_secret", true, false},
		{"form-encoded parts", enc("app_x:a%2Bb%3Ac"), "app_x", "a+b:c", true, false},
		{"lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("a:b")), "a", "b", true, false},
		{"not basic", "Bearer x", "", "", false, false},
		{"empty", "", "", "", false, false},
		{"bad base64", "Basic ***", "", "", true, true},
		{"no colon", enc("app_x"), "", "", true, true},
		{"empty id", enc(":secret"), "", "", true, true},
		{"bad escape", enc("app_x:%zz"), "", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, basic, err := ParseBasic(tt.header)
			if basic != tt.basic || (err != nil) != tt.fails {
				t.Fatalf("basic=%v err=%v", basic, err)
			}
			if !tt.fails && (c.ID != tt.id || c.Secret != tt.secret) {
				t.Fatalf("got %q %q", c.ID, c.Secret)
			}
			if err != nil && AsError(err).Code != InvalidClient {
				t.Fatalf("error code %s, want invalid_client", AsError(err).Code)
			}
		})
	}
}

func FuzzParseAuthorizeRequest(f *testing.F) {
	f.Add("client_id=app_x&redirect_uri=https%3A%2F%2Fa.example%2Fcb&response_type=code&scope=openid+email&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&prompt=consent")
	f.Add("client_id=a&client_id=b")
	f.Add("redirect_uri=%zz&response_type=token&prompt=none+login")
	f.Add("client_id=app_x&redirect_uri=x&response_type=code&code_challenge_method=plain&scope=%00")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := ParseAuthorizeRequest(q)
		if r == nil {
			t.Fatal("nil request")
		}
		if err == nil {
			if r.ClientID == "" || r.RedirectURI == "" || r.ResponseType != "code" || len(r.Scopes) == 0 {
				t.Fatalf("accepted an incomplete request %+v", r)
			}
			if r.CodeChallengeMethod == "plain" || (r.CodeChallenge != "" && r.CodeChallengeMethod != "S256") {
				t.Fatalf("accepted PKCE %q/%q", r.CodeChallenge, r.CodeChallengeMethod)
			}
			// The request survives its round trip through the flow state.
			again, err := ParseAuthorizeRequest(r.Query())
			if err != nil || again.ClientID != r.ClientID || again.State != r.State {
				t.Fatalf("round trip: %+v %v", again, err)
			}
		} else if e := AsError(err); e.Code == ServerError {
			t.Fatalf("server error on input: %v", err)
		}
	})
}

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=authorization_code&code=lsac_x&redirect_uri=https%3A%2F%2Fa%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	f.Add("grant_type=refresh_token&refresh_token=lsrt_x&scope=openid")
	f.Add("grant_type=password&grant_type=x")
	f.Add("grant_type=authorization_code&code=&code_verifier=%ff")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := ParseTokenRequest(form)
		if err != nil {
			if e := AsError(err); e.Code == ServerError || e.Status != 400 {
				t.Fatalf("error %v with status %d", err, e.Status)
			}
			return
		}
		switch r.GrantType {
		case "authorization_code":
			if r.Code == "" || r.RedirectURI == "" || (r.CodeVerifier != "" && !validVerifier(r.CodeVerifier)) {
				t.Fatalf("accepted %+v", r)
			}
		case "refresh_token":
			if r.RefreshToken == "" {
				t.Fatalf("accepted %+v", r)
			}
		default:
			t.Fatalf("accepted grant %q", r.GrantType)
		}
	})
}

func FuzzParseBasic(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("app_x:lss_y")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("a%zz:b")))
	f.Add("Basic")
	f.Add("Bearer abc")
	f.Add("basic    =")
	f.Fuzz(func(t *testing.T, header string) {
		c, basic, err := ParseBasic(header)
		if err != nil {
			if !basic || AsError(err).Code != InvalidClient {
				t.Fatalf("basic=%v err=%v", basic, err)
			}
			return
		}
		if basic && c.ID == "" {
			t.Fatal("accepted an empty client_id")
		}
		if !basic && (c.ID != "" || c.Secret != "") {
			t.Fatal("credentials from a non-Basic header")
		}
	})
}

func FuzzMatchRedirectURI(f *testing.F) {
	f.Add("https://app.example.com/cb", "https://app.example.com/cb")
	f.Add("http://127.0.0.1/cb", "http://127.0.0.1:8080/cb")
	f.Add("http://[::1]/cb", "http://[::1]:1/cb?")
	f.Add("https://app.example.com/cb", "https://app.example.com/cb/")
	f.Add("http://localhost/cb", "http://localhost:99999/cb")
	f.Fuzz(func(t *testing.T, registered, requested string) {
		got, ok := MatchRedirectURI([]string{registered}, requested)
		if !ok {
			if got != "" {
				t.Fatal("no match but a result")
			}
			return
		}
		if got != registered {
			t.Fatalf("matched %q, not the registered URI", got)
		}
		if requested == registered {
			return
		}
		// Only the loopback port may differ: everything but the port is equal.
		rq, err1 := url.Parse(requested)
		rg, err2 := url.Parse(registered)
		if err1 != nil || err2 != nil || rq.Scheme != "http" || rg.Scheme != "http" || !isLoopback(rq.Hostname()) ||
			rq.Hostname() != rg.Hostname() || rq.EscapedPath() != rg.EscapedPath() || rq.RawQuery != rg.RawQuery || rq.User != nil {
			t.Fatalf("%q matched %q beyond the loopback port exception", requested, registered)
		}
	})
}

func TestRedirectDifferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		want, got string
		says      []string
	}{
		{"https://app.example.com/cb", "https://www.app.example.com/cb", []string{"host differs by www"}},
		{"https://app.example.com/cb", "https://app.example.com/cb/", []string{"trailing slash"}},
		{"https://app.example.com/cb", "http://app.example.com:8080/cb?x=1", []string{"scheme differs", "port differs", "query differs"}},
		{"https://app.example.com/cb", "https://APP.example.com/cb", []string{"letter case"}},
		{"https://app.example.com/cb", "%zz", nil},
	}
	for _, tt := range tests {
		got := strings.Join(differences(tt.want, tt.got), "; ")
		for _, s := range tt.says {
			if !strings.Contains(got, s) {
				t.Errorf("differences(%q, %q) = %q, want it to say %q", tt.want, tt.got, got, s)
			}
		}
		if tt.says == nil && got != "" {
			t.Errorf("differences(%q, %q) = %q, want none", tt.want, tt.got, got)
		}
	}
	if c := closest([]string{"https://a.example/x", "https://app.example.com/callback"}, "https://app.example.com/callbak"); c != "https://app.example.com/callback" {
		t.Errorf("closest = %q", c)
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance = %d", d)
	}
}

// describeAgent names a browser and its system the way the dashboard does, from the headers
// of current browsers, and nothing for a header that names neither.
func TestDescribeAgent(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0":           "Edge/Windows",
		"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0":                                                                  "Firefox/Linux",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1": "Safari/iOS",
		"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36":                   "Chrome/Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15":                   "Safari/macOS",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36":                          "Chrome/ChromeOS",
		"curl/8.5.0":                    "",
		"":                              "",
		"Mozilla/5.0 (Windows NT 10.0)": "/Windows",
	} {
		if got := describeAgent(ua); got != want {
			t.Errorf("describeAgent(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestParseAuthorizeRequestReadsTheResponseMode: response_mode is query (also when absent) or
// form_post, recorded on the request, and form_post only for an http(s) redirect URI; anything
// else, fragment included, is a redirectable invalid_request, answered in the default mode.
// An error after a valid response_mode keeps it, so that error reaches the client the way it
// asked.
func TestParseAuthorizeRequestReadsTheResponseMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, redirectURI string
		modes             []string
		wantMode, refused string
	}{
		{"absent", "https://a.example/cb", nil, "", ""},
		{"query", "https://a.example/cb", []string{"query"}, "query", ""},
		{"form_post", "https://a.example/cb", []string{"form_post"}, "form_post", ""},
		{"form_post to a loopback native app", "http://127.0.0.1:49152/cb", []string{"form_post"}, "form_post", ""},
		{"form_post to a private-use scheme", "com.example.app:/cb", []string{"form_post"}, "", "needs an http(s) redirect_uri"},
		{"fragment", "https://a.example/cb", []string{"fragment"}, "", "must be query or form_post"},
		{"unknown", "https://a.example/cb", []string{"web_message"}, "", "must be query or form_post"},
		{"case differs", "https://a.example/cb", []string{"FORM_POST"}, "", "must be query or form_post"},
		{"repeated", "https://a.example/cb", []string{"form_post", "form_post"}, "", "must not be repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"client_id": {"app_x"}, "redirect_uri": {tt.redirectURI}, "response_type": {"code"},
				"code_challenge": {S256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")}, "code_challenge_method": {"S256"}}
			q["response_mode"] = tt.modes
			r, err := ParseAuthorizeRequest(q)
			if tt.refused == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if e := AsError(err); tt.refused != "" && (err == nil || e.Code != InvalidRequest || !e.Redirect || !strings.Contains(e.Description, tt.refused)) {
				t.Fatalf("err = %v, want a redirectable invalid_request naming %q", err, tt.refused)
			}
			if r.ResponseMode != tt.wantMode {
				t.Fatalf("ResponseMode = %q, want %q", r.ResponseMode, tt.wantMode)
			}
			if got := r.Query().Get("response_mode"); got != tt.wantMode {
				t.Fatalf("Query() carries response_mode %q, want %q (a pushed request keeps it)", got, tt.wantMode)
			}
		})
	}
	t.Run("another error keeps form_post", func(t *testing.T) {
		for _, change := range []url.Values{{"scope": {"openid offline_access"}}, {"state": {strings.Repeat("s", 2000)}}} {
			q := url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"code"},
				"response_mode": {"form_post"}}
			maps.Copy(q, change)
			r, err := ParseAuthorizeRequest(q)
			if err == nil || r.ResponseMode != ResponseModeFormPost {
				t.Fatalf("%v: err = %v, ResponseMode = %q; want the error answered by form_post", change, err, r.ResponseMode)
			}
		}
	})
	t.Run("a refused mode is answered after the response type, as before", func(t *testing.T) {
		q := url.Values{"client_id": {"app_x"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"token"},
			"response_mode": {"fragment"}}
		if _, err := ParseAuthorizeRequest(q); AsError(err).Code != UnsupportedResponseType {
			t.Fatalf("err = %v, want unsupported_response_type", err)
		}
	})
}
