package oauth_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// TestARedirectURIMayNotCarryAParameterTheAnswerAdds: a redirect URI whose own query holds
// code, state, iss or an error parameter is refused at registration, as is a post-logout
// redirect URI holding state: the client would read two of them (RFC 6749 §3.1.2 lets a
// redirect URI have a query, not one the answer repeats). Names are compared as a client
// decodes them; other parameters, and names that merely contain a reserved one, stay allowed.
func TestARedirectURIMayNotCarryAParameterTheAnswerAdds(t *testing.T) {
	for _, c := range []struct {
		uri  string
		want string // "" = accepted, else the refused name
	}{
		{"https://app.example/cb?code=x", "code"},
		{"https://app.example/cb?a=1&state=s", "state"},
		{"https://app.example/cb?iss=https%3A%2F%2Fevil.example", "iss"},
		{"https://app.example/cb?error=access_denied", "error"},
		{"https://app.example/cb?error_description=x", "error_description"},
		{"https://app.example/cb?error_uri=x", "error_uri"},
		{"https://app.example/cb?code", "code"},
		{"https://app.example/cb?c%6Fde=x", "code"},
		{"http://127.0.0.1:8080/cb?state=", "state"},
		{"com.example.app:/cb?iss=x", "iss"},
		{"https://app.example/cb?returnTo=%2Fhome", ""},
		{"https://app.example/cb?mode=code&statement=1&issuer=x", ""},
		{"https://app.example/code/state?x=iss", ""},
		{"https://app.example/cb?", ""},
	} {
		err := oauth.CheckRedirectURI(c.uri)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), "carry "+c.want+" ")) {
			t.Errorf("CheckRedirectURI(%q) = %v, want %q refused", c.uri, err, c.want)
		}
	}
	for _, c := range []struct {
		uri    string
		refuse bool
	}{
		{"https://app.example/bye?state=x", true},
		{"https://app.example/bye?st%61te=x", true},
		{"https://app.example/bye?code=x&from=logout", false},
		{"https://app.example/bye", false},
		{"https://app.example/bye#x", true},
	} {
		if err := oauth.CheckPostLogoutRedirectURI(c.uri); (err != nil) != c.refuse {
			t.Errorf("CheckPostLogoutRedirectURI(%q) = %v, want refused %v", c.uri, err, c.refuse)
		}
	}
}

// TestAnAnswerReplacesWhatARegisteredQueryHeld: a redirect URI registered with code, state or
// iss in its query before registration refused them still gets one of each, LoginSign's, and
// the rest of its query byte for byte; the same for state on a post-logout redirect URI.
func TestAnAnswerReplacesWhatARegisteredQueryHeld(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb?keep=a;b&code=stale&state=old&iss=https%3A%2F%2Fevil.example&error=x&c%6Fde=2"
		app, _ := e.client(t, cb)
		req := e.authorize(t, authzQuery(app.ID, cb, ""))
		wantOne := func(t *testing.T, loc string, name, want string) {
			t.Helper()
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for seg := range strings.SplitSeq(u.RawQuery, "&") {
				k, v, _ := strings.Cut(seg, "=")
				k, _ = url.QueryUnescape(k)
				v, _ = url.QueryUnescape(v)
				if k == name {
					got = append(got, v)
				}
			}
			if !slices.Equal(got, []string{want}) {
				t.Errorf("%s in %s = %q, want one %q", name, loc, got, want)
			}
		}
		code := e.svc.CodeResponse(req, "the-code").URL()
		if !strings.HasPrefix(code, "https://rp.example/cb?keep=a;b&") {
			t.Errorf("code answer %s lost the registered query", code)
		}
		wantOne(t, code, "code", "the-code")
		wantOne(t, code, "state", "st-1")
		wantOne(t, code, "iss", e.svc.Config.Issuer)
		if u, _ := url.Parse(code); u.Query().Has("error") {
			t.Errorf("code answer %s carries an error", code)
		}
		denied := e.svc.ErrorResponse(req, oauth.ErrAccessDenied).URL()
		wantOne(t, denied, "error", oauth.AccessDenied)
		wantOne(t, denied, "state", "st-1")

		const bye = "https://rp.example/bye?state=old&from=logout"
		ctx := context.Background()
		if err := e.db.Application.UpdateOneID(app.ID).SetPostLogoutRedirectUris([]string{bye}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		out, err := e.svc.ParseLogout(ctx, url.Values{"client_id": {app.ID}, "post_logout_redirect_uri": {bye}, "state": {"new"}})
		if err != nil {
			t.Fatal(err)
		}
		if out.RedirectURI != "https://rp.example/bye?from=logout&state=new" {
			t.Errorf("logout redirect = %s", out.RedirectURI)
		}
	})
}
