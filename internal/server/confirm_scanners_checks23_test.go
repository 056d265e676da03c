package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/ent/appinvitation"
	"loginsign/ent/emailchange"
	"loginsign/ent/useremail"
)

// mailedLinks are the links of the mails LoginSign sends about one person that ask them to
// confirm or undo something a developer (or anyone) proposed, as a mail scanner sees them.
type mailedLinks struct {
	confirmChange, cancelChange, verify, invitation, magic string
}

// proposeEverything has a developer propose to pat everything a mail asks pat to confirm:
// a change of pat's primary address (confirm link to the proposed address, cancel link to pat's),
// a team invitation, and pat adds an address of their own (verification link); then a sign-in
// link is asked for pat's address. It returns pat's browser, signed in, and the links.
func proposeEverything(t *testing.T, e *oauthEnv) (*browser, mailedLinks) {
	t.Helper()
	ctx := context.Background()
	pat := e.browser()
	e.connect(pat, e.app, "pat@example.com")
	u := e.userByEmail("pat@example.com")
	conn, err := e.srv.db.AppConnection.Query().Where(appconnection.UserID(u.ID)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dev := e.browser()
	dev.signInTo("dev@example.com")
	var l mailedLinks
	if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
		map[string]any{"email": "pat@dev-chosen.example"}); status != 200 {
		t.Fatalf("proposing an address: %d %s", status, body)
	}
	l.confirmChange = e.mailLink("pat@dev-chosen.example", "/account/email-change/confirm")
	l.cancelChange = e.mailLink("pat@example.com", "/account/email-change/cancel")

	if st, out := dev.api(http.MethodPost, "/api/developer/applications/"+e.app.ID+"/members/invitations",
		map[string]any{"email": "pat@example.com", "role": "developer"}); st != 201 {
		t.Fatalf("inviting pat: %d %v", st, out)
	}
	l.invitation = e.mailLink("pat@example.com", "/portal/invitation")

	pat.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
		map[string]any{"e": "pat@second.example", "c": pat.changeCode()})
	l.verify = e.mailLink("pat@second.example", "/dashboard/emails/verify")

	asker := e.browser()
	if sent := asker.post(e.base+"/login", url.Values{"email": {"pat@example.com"}}); sent.StatusCode != 200 {
		t.Fatalf("asking for a sign-in link: %d %s", sent.StatusCode, sent.Body)
	}
	l.magic = e.magicLink("pat@example.com")
	return pat, l
}

// nothingConfirmed fails unless every proposal proposeEverything made is still open.
func nothingConfirmed(t *testing.T, e *oauthEnv, l mailedLinks, when string) {
	t.Helper()
	ctx := context.Background()
	if u := e.userByEmail("pat@example.com"); u == nil {
		t.Errorf("%s: pat's primary address changed", when)
	}
	if n := e.srv.db.EmailChange.Query().Where(emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != 1 {
		t.Errorf("%s: %d address-change requests pending, want 1 (neither confirmed nor cancelled)", when, n)
	}
	if n := e.srv.db.AppInvitation.Query().Where(appinvitation.AcceptedAtNotNil()).CountX(ctx); n != 0 {
		t.Errorf("%s: an invitation was accepted", when)
	}
	if n := e.srv.db.UserEmail.Query().Where(useremail.Email("pat@second.example"), useremail.VerifiedAtNotNil()).CountX(ctx); n != 0 {
		t.Errorf("%s: the added address was verified", when)
	}
	if !e.srv.oauth.MagicLinkPending(ctx, mustToken(t, l.magic)) {
		t.Errorf("%s: the sign-in link was used", when)
	}
}

func mustToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no token in %q", link)
	}
	return u.Query().Get("token")
}

// TestAMailScannerThatOpensEveryLinkConfirmsNothing: a mail scanner (Outlook Safe Links,
// Proofpoint, Gmail's prefetch) opens every link of every mail with GET, and some with HEAD,
// signed out or, in the person's own browser, signed in. None of the mailed links confirms,
// cancels, accepts, verifies or uses anything by being opened: the address change, the
// invitation, the verification and the sign-in all stay open, and the pages that would act
// show a button instead, a page that may not be framed and keeps no referrer.
func TestAMailScannerThatOpensEveryLinkConfirmsNothing(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	pat, l := proposeEverything(t, e)
	links := []string{l.confirmChange, l.cancelChange, l.verify, l.invitation, l.magic}
	scanner := e.browser()
	for _, b := range []*browser{scanner, pat} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			for _, link := range links {
				p := b.do(method, link, nil)
				if p.StatusCode >= 500 {
					t.Errorf("%s %s: %d", method, link, p.StatusCode)
				}
				if p.StatusCode == 200 && method == http.MethodGet && strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
					if p.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
						p.Header.Get("Referrer-Policy") != "no-referrer" {
						t.Errorf("GET %s may be framed or leaks its address: X-Frame-Options %q, CSP %q, Referrer-Policy %q", link,
							p.Header.Get("X-Frame-Options"), p.Header.Get("Content-Security-Policy"), p.Header.Get("Referrer-Policy"))
					}
				}
			}
		}
	}
	nothingConfirmed(t, e, l, "after the scanner")
	// The person's own pages still offer to act.
	if p := pat.get(l.confirmChange); p.StatusCode != 200 || !strings.Contains(p.Body, `name="code"`) {
		t.Errorf("the confirm page after the scanner: %d\n%s", p.StatusCode, p.Body)
	}
	if p := pat.get(l.cancelChange); p.StatusCode != 200 || !strings.Contains(p.Body, `id="confirm-submit"`) {
		t.Errorf("the cancel page after the scanner: %d\n%s", p.StatusCode, p.Body)
	}
}

// TestACrossSitePostConfirmsNoMailedLinkAndSaysSo: a page of another site that learnt a mailed
// link's token (a forwarded mail, a scanner's report) posts each link's form from the person's
// browser, which carries their session cookie where the browser sends it (Sec-Fetch-Site names
// the request cross-site or same-site), or, from a browser without Fetch Metadata (Safari before
// 16.4), with a foreign Origin. Each is refused with 403 and nothing changes, the cancel link,
// which needs no session, included; and the refusal is in the route's documented shape: the
// HTML error page for a page's form, {"error":"cross_site_request","message"} for REST, the
// GraphQL errors with that code for /graphql. Before, every route answered http's
// CrossOriginProtection's text/plain line, which no API client could read as an error.
func TestACrossSitePostConfirmsNoMailedLinkAndSaysSo(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	pat, l := proposeEverything(t, e)
	headers := []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"},
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
	}
	send := func(path, ct, body string, h map[string]string) page {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := pat.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return page{resp, string(raw)}
	}
	forms := []struct {
		path string
		form url.Values
	}{
		{"/account/email-change/confirm", url.Values{"token": {mustToken(t, l.confirmChange)}, "code": {"00000000"}}},
		{"/account/email-change/cancel", url.Values{"token": {mustToken(t, l.cancelChange)}}},
		{"/account/email-change/code", url.Values{"token": {mustToken(t, l.confirmChange)}}},
		{"/dashboard/emails/verify", url.Values{"token": {mustToken(t, l.verify)}}},
		{"/login/magic", url.Values{"token": {mustToken(t, l.magic)}}},
		{"/login/magic/approve", url.Values{"token": {mustToken(t, l.magic)}, "match": {"00"}}},
		{"/oauth/consent", url.Values{"flow": {"unknown"}, "action": {"allow_link"}}},
	}
	for _, f := range forms {
		for _, h := range headers {
			p := send(f.path, "application/x-www-form-urlencoded", f.form.Encode(), h)
			if p.StatusCode != http.StatusForbidden || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(p.Body, "another site") || p.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("POST %s with %v: %d %q, want 403 and the HTML page saying it came from another site:\n%s",
					f.path, h, p.StatusCode, p.Header.Get("Content-Type"), p.Body)
			}
		}
	}
	// The invitation is accepted through the portal's API: JSON over REST and GraphQL.
	tok := mustToken(t, l.invitation)
	for _, h := range headers {
		for _, ct := range []string{"application/json", "text/plain"} {
			p := send("/api/developer/invitations/accept", ct, `{"token":"`+tok+`"}`, h)
			var body map[string]any
			if json.Unmarshal([]byte(p.Body), &body) != nil || p.StatusCode != http.StatusForbidden ||
				body["error"] != "cross_site_request" || body["message"] == "" {
				t.Errorf("REST accept (%s) with %v: %d %s, want 403 {\"error\":\"cross_site_request\",\"message\":…}", ct, h, p.StatusCode, p.Body)
			}
			p = send("/graphql", ct, `{"query":"mutation($t: String) { acceptInvitation(input: {token: $t}) { role } }","variables":{"t":"`+tok+`"}}`, h)
			var gql struct {
				Errors []struct {
					Message    string
					Extensions struct{ Code string }
				}
			}
			if json.Unmarshal([]byte(p.Body), &gql) != nil || p.StatusCode != http.StatusForbidden || len(gql.Errors) != 1 ||
				gql.Errors[0].Extensions.Code != "cross_site_request" || gql.Errors[0].Message == "" {
				t.Errorf("GraphQL accept (%s) with %v: %d %s, want 403 with the error cross_site_request", ct, h, p.StatusCode, p.Body)
			}
		}
	}
	nothingConfirmed(t, e, l, "after the cross-site posts")
	// The same forms from LoginSign's own pages still act: the cancel link cancels.
	if p := send("/account/email-change/cancel", "application/x-www-form-urlencoded",
		url.Values{"token": {mustToken(t, l.cancelChange)}}.Encode(), map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.base}); p.StatusCode != 200 {
		t.Errorf("the cancel form from LoginSign's own page: %d\n%s", p.StatusCode, p.Body)
	}
}
