package server

// Attacker scripts: each test plays an attack on the rule "a developer can propose, only the
// person can change" end to end, over real HTTP, SMTP, SQL and Redis, on SQLite and PostgreSQL
// (forBackends). They are written as the attacker would run them, and then check what the
// attack achieved.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/ent/emailchange"
	"loginsign/ent/pendinglink"
	"loginsign/ent/user"
	"loginsign/ent/webhookevent"
	"loginsign/internal/auth"
)

// api sends a JSON request with the browser's cookies and decodes a JSON answer.
func (b *browser) api(method, path string, body any) (int, map[string]any) {
	t := b.e.t
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.e.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// raw is like api but returns the body as sent by the server.
func (b *browser) raw(method, path string, body any) (int, string) {
	t := b.e.t
	t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, b.e.base+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// gql runs a GraphQL operation with the browser's session and fails on errors.
func (b *browser) gql(query string, vars map[string]any) map[string]any {
	b.e.t.Helper()
	status, out := b.api(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": vars})
	if status != 200 || out["errors"] != nil {
		b.e.t.Fatalf("GraphQL %s: %d %v", query, status, out["errors"])
	}
	return out["data"].(map[string]any)
}

// signInTo signs the browser in to LoginSign itself (no app) with a magic link to email.
func (b *browser) signInTo(email string) {
	b.e.t.Helper()
	p := b.signIn(b.get(b.e.base+"/login"), email)
	if p.StatusCode != 200 {
		b.e.t.Fatalf("sign-in as %s ended at %d %s", email, p.StatusCode, p.Request.URL)
	}
}

// viewer is the Global User ID of the account the browser is signed in to.
func (b *browser) viewer() string {
	b.e.t.Helper()
	return b.gql(`{ viewer { globalID } }`, nil)["viewer"].(map[string]any)["globalID"].(string)
}

// mailLink waits for the next mail, checks its recipient and returns the path of the link
// on the base URL whose path is path.
func (e *oauthEnv) mailLink(to, path string) string {
	e.t.Helper()
	m := e.smtp.Next(e.t, 10*time.Second)
	for isSecurityNotice(m.Subject) { // sent in the background, in the person's language
		m = e.smtp.Next(e.t, 10*time.Second)
	}
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) {
		e.t.Fatalf("mail went to %v, want %s (subject %q)", m.To, to, m.Subject)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(e.base+path) + `\?token=(\S+)\s*$`)
	match := re.FindStringSubmatch(strings.ReplaceAll(m.Text, "\r\n", "\n"))
	if match == nil {
		e.t.Fatalf("no %s link in the mail to %s:\n%s", path, to, m.Text)
	}
	return e.base + path + "?token=" + match[1]
}

var formTokenRe = regexp.MustCompile(`<form method="post" action="([^"]+)">\s*<input type="hidden" name="token" value="([^"]+)">`)

// confirmForm follows a mailed link's page and posts its form; it returns the page of the GET
// and of the POST (empty when the page had no form).
func (b *browser) confirmForm(link string) (get, post page) {
	get = b.get(link)
	m := formTokenRe.FindStringSubmatch(get.Body)
	if m == nil {
		return get, page{}
	}
	return get, b.post(b.e.base+m[1], url.Values{"token": {m[2]}})
}

// attackerApp is an application the attacker registered as a developer, from their own
// account, through the documented REST route. Its redirect URI is a loopback one: the demo
// app's host is its developer's (another developer's application may not register it).
func (b *browser) createApp(name string) testApp {
	b.e.t.Helper()
	status, out := b.api(http.MethodPost, "/api/developer/applications", map[string]any{"name": name, "redirectUris": []string{rpLoopback}})
	if status != 201 {
		b.e.t.Fatalf("creating %s: %d %v", name, status, out)
	}
	return testApp{ID: out["id"].(string), Secret: out["clientSecret"].(string), Redirects: []string{rpLoopback}}
}

// connect runs a whole sign-in of the browser's person to app (consent allowed) and returns
// the token response.
func (e *oauthEnv) connect(b *browser, app testApp, email string, scopes ...string) *oauth2.Token {
	e.t.Helper()
	redirect := rpCallback
	if !slices.Contains(app.Redirects, rpCallback) && len(app.Redirects) > 0 {
		redirect = app.Redirects[0] // an application of another developer than the demo app's
	}
	conf := e.config(app, redirect, scopes...)
	verifier := oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, email)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	q := callback(e.t, p)
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

func (e *oauthEnv) userByEmail(email string) *userRow {
	e.t.Helper()
	u, err := e.srv.db.User.Query().Where(user.Email(email)).Only(context.Background())
	if err != nil {
		return nil
	}
	return &userRow{ID: u.ID, GlobalID: u.GlobalID, Email: u.Email, Version: u.EmailVersion}
}

type userRow struct {
	ID, GlobalID, Email string
	Version             int
}

// The takeover of issue 10: a developer imports the victim, asks LoginSign to change the
// victim's address to one the attacker owns, and signs in with it. Now the change waits for
// the person; the attacker confirming it from their own mailbox ends in their own account.
func TestAttackEmailSyncTakeover(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()

		// The victim uses the demo app and, later, the attacker's app (a legitimate sign-in).
		victim := e.browser()
		e.connect(victim, e.app, "victim@example.com")
		before := e.userByEmail("victim@example.com")

		attacker := e.browser()
		attacker.signInTo("mallory@evil.example")
		evil := attacker.createApp("Totally Legit")

		// Step 1: import the victim. The answer is a proposal: no connection, no Global ID.
		status, imp := attacker.api(http.MethodPost, "/api/developer/applications/"+evil.ID+"/import-existing-users/csv",
			map[string]any{"users": []any{map[string]any{"externalUserId": "v1", "email": "victim@example.com"}}})
		row := imp["results"].([]any)[0].(map[string]any)
		if status != 200 || row["status"] != "imported" || row["connectionId"] != nil || row["globalId"] != nil {
			t.Fatalf("import: %d %v", status, imp)
		}
		if _, users := attacker.api(http.MethodGet, "/api/developer/applications/"+evil.ID+"/users", nil); users["total"] != float64(0) {
			t.Fatalf("the import connected someone: %v", users)
		}

		// The victim then signs in to the attacker's app: now the attacker has a connection id.
		e.connect(victim, evil, "victim@example.com")
		_, users := attacker.api(http.MethodGet, "/api/developer/applications/"+evil.ID+"/users", nil)
		connID := users["users"].([]any)[0].(map[string]any)["id"].(string)

		// Step 2: "sync" the victim's address to the attacker's mailbox.
		status, body := attacker.raw(http.MethodPatch, "/api/developer/applications/"+evil.ID+"/users/"+connID+"/email",
			map[string]any{"email": "mallory+victim@evil.example"})
		if status != 200 || body != `{"ok":true,"changed":false,"pending":true}`+"\n" {
			t.Fatalf("sync: %d %q", status, body)
		}
		if got := e.userByEmail("victim@example.com"); got == nil || got.Version != before.Version {
			t.Fatal("the request alone changed the victim's account")
		}
		confirm := e.mailLink("mallory+victim@evil.example", "/account/email-change/confirm")
		cancel := e.mailLink("victim@example.com", "/account/email-change/cancel")

		// Step 3: the attacker opens the confirmation in a fresh browser: signed out, the page
		// only offers to sign in; signing in with the attacker's address gives the attacker's
		// own (new) account; the confirmation then refuses and changes nothing.
		mallory2 := e.browser()
		get, post := mallory2.confirmForm(confirm)
		if get.StatusCode != 200 || post.Response != nil || !strings.Contains(get.Body, "/login?return_to=") ||
			!strings.Contains(get.Body, "Totally Legit") {
			t.Fatalf("signed-out confirmation page: %d %s", get.StatusCode, get.Body)
		}
		mallory2.signInTo("mallory+victim@evil.example")
		own := mallory2.viewer()
		if own == before.GlobalID {
			t.Fatal("signing in with the attacker's address reached the victim's account")
		}
		// The page explains at once, with no form to send (since stop 63; before, it offered the
		// form and a code mail, and only the POST refused).
		get, post = mallory2.confirmChange(confirm)
		if get.StatusCode != http.StatusForbidden || !strings.Contains(get.Body, "another LoginSign account") || post.Response != nil {
			t.Fatalf("confirmation page in the attacker's account: %d %s (a form posted: %v)", get.StatusCode, get.Body, post.Response != nil)
		}
		// A forged POST without the page does no better.
		if p := mallory2.post(e.base+"/account/email-change/confirm", url.Values{"token": {strings.TrimPrefix(confirm, e.base+"/account/email-change/confirm?token=")}}); p.StatusCode != 403 {
			t.Fatalf("forged POST: %d", p.StatusCode)
		}
		// The victim's account is untouched: same primary, same version, and the demo app
		// signs the attacker's browser in to the attacker's account, not the victim's.
		if got := e.userByEmail("victim@example.com"); got == nil || got.GlobalID != before.GlobalID || got.Version != before.Version {
			t.Fatalf("victim after the attack: %+v, before %+v", got, before)
		}
		tok := e.connect(mallory2, e.app, "")
		if id, _ := tok.Extra("id_token").(string); id == "" {
			t.Fatal("no id_token")
		}
		conns, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).WithUser().All(ctx)
		for _, c := range conns {
			if c.Edges.User.GlobalID == before.GlobalID && c.Edges.User.Email != "victim@example.com" {
				t.Fatal("the victim's connection changed hands")
			}
		}
		if n := len(conns); n != 2 {
			t.Fatalf("demo app has %d connections, want the victim's and the attacker's own", n)
		}
		// The victim still signs in to the same account with their address.
		fresh := e.browser()
		fresh.signInTo("victim@example.com")
		if got := fresh.viewer(); got != before.GlobalID {
			t.Fatalf("the victim's address opens %s, want %s", got, before.GlobalID)
		}

		// "This wasn't me": the victim cancels from the notice; the link is then spent. A
		// cancel changes nothing else: no mail, and the victim's sessions go on.
		mails := e.smtp.Count()
		if _, p := e.browser().confirmForm(cancel); p.StatusCode != 200 || !strings.Contains(p.Body, "Change cancelled") {
			t.Fatalf("cancel: %d %s", p.StatusCode, p.Body)
		}
		if n := e.smtp.Count(); n != mails {
			t.Errorf("the cancel sent %d mails, want none", n-mails)
		}
		if got := fresh.viewer(); got != before.GlobalID {
			t.Errorf("the victim's session after the cancel: %s", got)
		}
		if _, p := mallory2.confirmForm(confirm); p.Response != nil || !strings.Contains(mallory2.get(confirm).Body, "already used, was cancelled") {
			t.Fatal("a cancelled request can still be confirmed")
		}
		if n, _ := e.srv.db.EmailChange.Query().Where(emailchange.StatusEQ(emailchange.StatusCancelled)).Count(ctx); n != 1 {
			t.Fatalf("%d cancelled requests, want 1", n)
		}
		if n, _ := e.srv.db.WebhookEvent.Query().Where(webhookevent.Type("email_changed")).Count(ctx); n != 0 {
			t.Fatalf("%d email_changed events without any change", n)
		}
	})
}

// ageSessions moves the sign-in of every session of userID d into the past, as if the person
// had signed in that long ago.
func (e *oauthEnv) ageSessions(userID string, d time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	hashes, err := e.srv.kv.SMembers(ctx, "usess:"+userID).Result()
	if err != nil || len(hashes) == 0 {
		e.t.Fatalf("sessions of %s: %v %v", userID, hashes, err)
	}
	for _, h := range hashes {
		if err := e.srv.kv.HSet(ctx, "sess:"+h, "created", time.Now().Add(-d).UnixMilli()).Err(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// gqlCode runs a GraphQL operation with the browser's session and returns its first error's
// code ("" when it succeeded).
func (b *browser) gqlCode(query string, vars map[string]any) string {
	b.e.t.Helper()
	_, out := b.api(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": vars})
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

// A session cookie taken from the person's browser (by malware, a shared computer, a leaked
// HAR file) must not be enough to lock the person out: adding an address, making one primary,
// removing one, adding a passkey or an authenticator app and closing the account all need a
// sign-in of the last 15 minutes, which takes the person's mailbox or passkey (and second
// step). Signed in again, the same changes go through.
func TestAStolenSessionCannotChangeHowThePersonSignsIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		stolen := e.browser()
		stolen.signInTo("pat@example.com")
		before := e.userByEmail("pat@example.com")
		e.srv.db.UserEmail.Create().SetUserID(before.ID).SetEmail("pat.alt@example.com").SetVerifiedAt(time.Now()).SaveX(ctx)
		emails := stolen.gql(`{ viewer { emails(first: 10) { edges { node { id email } } } } }`, nil)
		altID := emails["viewer"].(map[string]any)["emails"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
		mails := e.smtp.Count()

		e.ageSessions(before.ID, auth.RecentSignIn+time.Minute)
		for _, op := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"addEmail", `mutation($e: String!) { addEmail(input: {email: $e}) { userEmail { id } } }`, map[string]any{"e": "mallory@evil.example"}},
			{"setPrimaryEmail", `mutation($id: ID!) { setPrimaryEmail(input: {emailId: $id}) { user { id } } }`, map[string]any{"id": altID}},
			{"removeEmail", `mutation($id: ID!) { removeEmail(input: {emailId: $id}) { deletedEmailId } }`, map[string]any{"id": altID}},
			{"beginTotpEnrolment", `mutation { beginTotpEnrolment(input: {}) { enrolment { secret } } }`, nil},
			{"confirmTotpEnrolment", `mutation { confirmTotpEnrolment(input: {code: "123456"}) { recoveryCodes } }`, nil},
			{"beginPasskeyRegistration", `mutation { beginPasskeyRegistration(input: {}) { options } }`, nil},
			{"closeAccount", `mutation($g: String!) { closeAccount(input: {confirmGlobalId: $g}) { endedConnections } }`, map[string]any{"g": before.GlobalID}},
		} {
			if code := stolen.gqlCode(op.query, op.vars); code != "reauthentication_required" {
				t.Errorf("%s with a sign-in 16 minutes old: %q, want reauthentication_required", op.name, code)
			}
		}
		after := e.userByEmail("pat@example.com")
		if after == nil || after.Version != before.Version {
			t.Fatalf("the account changed: %+v, before %+v", after, before)
		}
		if n := e.srv.db.UserEmail.Query().CountX(ctx); n != 1 {
			t.Errorf("%d alternative addresses, want the one there was", n)
		}
		if n := e.srv.db.Passkey.Query().CountX(ctx) + e.srv.db.TOTPFactor.Query().CountX(ctx); n != 0 {
			t.Errorf("%d second factors were added", n)
		}
		if n := e.smtp.Count(); n != mails {
			t.Errorf("%d mails sent, want none", n-mails)
		}

		// The dashboard's script sends the person to /login?again=1, which says why.
		if p := stolen.get(e.base + "/login?again=1&return_to=/dashboard"); !strings.Contains(p.Body, `id="sign-in-again"`) {
			t.Errorf("the login page does not say why: %s", p.Body)
		}
		stolen.signInTo("pat@example.com")
		if code := stolen.gqlCode(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
			map[string]any{"e": "pat.work@example.com", "c": stolen.changeCode()}); code != "" {
			t.Fatalf("addEmail right after signing in again: %s", code)
		}
		e.mailLink("pat.work@example.com", "/dashboard/emails/verify")
	})
}

// Anyone may ask for sign-in links to an address, and the address's cap (5 per 15 minutes, 20
// a day) keeps them from mailing the person without end; but a stranger using up the cap must
// not lock the person out: a browser that signed in to the account before has a budget of its
// own for the address.
func TestStrangersCannotLockThePersonOutOfSigningIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		person := e.browser()
		person.signInTo("pat@example.com") // one of the address's five mails
		for i := range 4 {
			if p := e.browser().post(e.base+"/login", url.Values{"email": {"pat@example.com"}}); p.StatusCode != 200 {
				t.Fatalf("stranger %d: %d", i+1, p.StatusCode)
			}
			e.magicLink("pat@example.com")
		}
		if p := e.browser().post(e.base+"/login", url.Values{"email": {"pat@example.com"}}); p.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a fifth stranger: %d, want 429", p.StatusCode)
		}
		if p := person.post(e.base+"/login", url.Values{"email": {"pat@example.com"}}); p.StatusCode != 200 || !strings.Contains(p.Body, "Check your email") {
			t.Fatalf("the person's own browser after strangers used up the cap: %d %s", p.StatusCode, p.Body)
		}
		e.magicLink("pat@example.com")
	})
}

// Login CSRF by a forwarded link: an attacker asks for a sign-in link to their own address and
// sends it to the person. Opened in the person's browser (not the one that asked), the page
// says whose account the link opens, and that it would replace the person's own session.
func TestAForwardedSignInLinkSaysWhoseAccountItOpens(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		person := e.browser()
		person.signInTo("pat@example.com")
		attacker := e.browser()
		if p := attacker.post(e.base+"/login", url.Values{"email": {"mallory@evil.example"}}); p.StatusCode != 200 {
			t.Fatalf("the attacker's link: %d", p.StatusCode)
		}
		p := person.get(e.magicLink("mallory@evil.example"))
		if !strings.Contains(p.Body, `id="link-account"`) || !strings.Contains(p.Body, "ma•••@evil.example") ||
			!strings.Contains(p.Body, "pat@example.com") || strings.Contains(p.Body, "mallory@evil.example") {
			t.Fatalf("the forwarded link's page does not say whose account it opens: %s", p.Body)
		}
	})
}

// A developer's email sync proposes an address; the page of its confirmation link shows the
// person's current address to nobody but that person (the link goes to the proposed mailbox,
// which may be the developer's own), warns what confirming means, needs a recent sign-in,
// and a confirmed change ends the person's other sessions and tells the old address.
func TestProposedAddressIsConfirmedOnlyAfterAFreshSignIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		person := e.browser()
		e.connect(person, e.app, "pat@example.com")
		other := e.browser()
		other.signInTo("pat@example.com")
		before := e.userByEmail("pat@example.com")
		conn, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)

		dev := e.browser()
		dev.signInTo("dev@example.com")
		if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
			map[string]any{"email": "pat@new.example"}); status != 200 {
			t.Fatalf("sync: %d %s", status, body)
		}
		confirm := e.mailLink("pat@new.example", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")

		// Whoever holds the link, signed out or in another account, does not learn the
		// person's current address: signed out the page offers to sign in, in another account
		// it refuses at once (since stop 63, 403 other_account, no form).
		if p := e.browser().get(confirm); p.StatusCode != 200 || strings.Contains(p.Body, "pat@example.com") || !strings.Contains(p.Body, "pat@new.example") {
			t.Errorf("confirmation page signed out: %d %s", p.StatusCode, p.Body)
		}
		if p := dev.get(confirm); p.StatusCode != http.StatusForbidden || strings.Contains(p.Body, "pat@example.com") || formTokenRe.MatchString(p.Body) {
			t.Errorf("confirmation page for the developer: %d %s", p.StatusCode, p.Body)
		}

		// The person, signed in 16 minutes ago: the page shows their address and the warning;
		// confirming asks them to sign in again and changes nothing.
		e.ageSessions(before.ID, auth.RecentSignIn+time.Minute)
		get, post := person.confirmForm(confirm)
		if !strings.Contains(get.Body, "pat@example.com") || !strings.Contains(get.Body, "whoever reads it can sign in to your account") {
			t.Errorf("the person's confirmation page: %s", get.Body)
		}
		if post.StatusCode != http.StatusUnauthorized || !strings.Contains(post.Body, "again=1") {
			t.Fatalf("confirming with an old sign-in: %d %s", post.StatusCode, post.Body)
		}
		if got := e.userByEmail("pat@example.com"); got == nil || got.Version != before.Version {
			t.Fatal("the address changed without a fresh sign-in")
		}

		person.signInTo("pat@example.com")
		if _, post = person.confirmChange(confirm); post.StatusCode != 200 || !strings.Contains(post.Body, "is now the primary address") {
			t.Fatalf("confirming after signing in again: %d %s", post.StatusCode, post.Body)
		}
		if got := e.userByEmail("pat@new.example"); got == nil || got.ID != before.ID {
			t.Fatal("the change was not made")
		}
		m := e.smtp.Next(t, 10*time.Second)
		if len(m.To) != 1 || m.To[0] != "pat@example.com" || !strings.Contains(m.Subject, "primary address") {
			t.Errorf("mail after the change: to %v, %q; want the notice to the old address", m.To, m.Subject)
		}
		// A confirmed proposal ends no session: the logouts that would send its apps would tell
		// an app that sees only the relay alias that its proposal was the person's address
		// (TestAConfirmedProposalSendsTheAliasAppNoLogout).
		if v := other.gql(`{ viewer { id } }`, nil)["viewer"]; v == nil {
			t.Errorf("the person's other session ended after a confirmed proposal, want it kept")
		}
		if got := person.viewer(); got != before.GlobalID {
			t.Errorf("the session that made the change: %s", got)
		}
	})
}

// The legitimate use of email sync: the person confirms from the new mailbox while signed in.
// The change then happens, old magic links stop working, apps shown the old address get
// email_changed; an address another account holds fails at confirmation, shown to the person.
func TestEmailSyncConfirmedByThePerson(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		person := e.browser()
		// The person shares their real address with the demo app.
		conf := e.config(e.app, rpCallback)
		p := person.signIn(person.get(conf.AuthCodeURL("s")), "pat@example.com")
		callback(t, person.consent(p, "allow", "pat@example.com"))
		before := e.userByEmail("pat@example.com")
		conn, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)

		dev := e.browser()
		dev.signInTo("dev@example.com")
		if status, out := dev.api(http.MethodPatch, "/api/developer/applications/"+e.app.ID, map[string]any{"webhookUrl": "http://127.0.0.1:9/hook"}); status != 200 {
			t.Fatalf("webhook: %d %v", status, out)
		}
		sync := func(addr string) string {
			t.Helper()
			status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email", map[string]any{"email": addr})
			if status != 200 {
				t.Fatalf("sync %s: %d %s", addr, status, body)
			}
			return body
		}
		if got := sync("PAT@example.com "); got != `{"ok":true,"changed":false}`+"\n" {
			t.Fatalf("same address: %s", got)
		}
		// An address of another account: the developer sees the usual answer...
		e.srv.identity.CreateUser(ctx, "taken@example.com", "")
		if got := sync("taken@example.com"); got != `{"ok":true,"changed":false,"pending":true}`+"\n" {
			t.Fatalf("taken address: %s", got)
		}
		taken := e.mailLink("taken@example.com", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")
		// ...and the person learns it on confirming.
		if _, post := person.confirmChange(taken); post.StatusCode != 409 || !strings.Contains(post.Body, "another LoginSign account") {
			t.Fatalf("confirming a taken address: %d %s", post.StatusCode, post.Body)
		}

		// A magic link asked for before the change.
		e.srv.oauth.SendMagicLink(ctx, "pat@example.com", "192.0.2.1")
		oldLink := e.magicLink("pat@example.com")

		sync("pat.new@example.com")
		confirm := e.mailLink("pat.new@example.com", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")
		get, post := person.confirmChange(confirm)
		if !strings.Contains(get.Body, "Demo App asked to make pat.new@example.com") || post.StatusCode != 200 ||
			!strings.Contains(post.Body, "pat.new@example.com is now the primary address") {
			t.Fatalf("confirmation: %s\n%d %s", get.Body, post.StatusCode, post.Body)
		}
		after := e.userByEmail("pat.new@example.com")
		if after == nil || after.GlobalID != before.GlobalID || after.Version != before.Version+1 {
			t.Fatalf("after confirming: %+v", after)
		}
		// Single use.
		if _, again := person.confirmForm(confirm); again.Response != nil {
			t.Fatal("the confirmation link worked twice")
		}
		// The old magic link is void.
		b := e.browser()
		page := b.get(oldLink)
		if page.StatusCode == 200 && strings.Contains(page.Body, `name="token"`) {
			if p := b.post(e.base+"/login/magic", url.Values{"token": {page.hidden(t, "token")}}); p.StatusCode < 400 {
				t.Fatalf("an old magic link still signs in: %d", p.StatusCode)
			}
		}
		// The app was shown the old address: it gets email_changed (and its connection follows).
		ev, err := e.srv.db.WebhookEvent.Query().Where(webhookevent.Type("email_changed")).Only(ctx)
		if err != nil || !strings.Contains(ev.Payload, `"newEmail":"pat.new@example.com"`) {
			t.Fatalf("email_changed: %v %v", ev, err)
		}
		if c, _ := e.srv.db.AppConnection.Get(ctx, conn.ID); c.AppEmail != "pat.new@example.com" {
			t.Errorf("the app's shared address did not follow: %q", c.AppEmail)
		}
	})
}

// Import must not tell a developer whether an address has a LoginSign account: a known and an
// unknown address give byte-identical answers (apart from the run's id and the echoed input).
// Timing is compared by BenchmarkImportKnownVsUnknown, not asserted here.
func TestAttackImportOracleGone(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		victim := e.browser()
		e.connect(victim, e.app, "known@example.com")
		e.srv.identity.CreateUser(context.Background(), "named@example.com", "Real Name")

		attacker := e.browser()
		attacker.signInTo("prober@evil.example")
		app := attacker.createApp("Prober")
		probe := func(email, name string) string {
			_, body := attacker.raw(http.MethodPost, "/api/developer/applications/"+app.ID+"/import-existing-users/csv",
				map[string]any{"sourceName": "probe", "users": []any{map[string]any{"externalUserId": "x", "email": email, "name": name}}})
			body = regexp.MustCompile(`imp_[a-z2-7]+`).ReplaceAllString(body, "imp_ID")
			return strings.ReplaceAll(body, email, "EMAIL")
		}
		unknown := probe("nobody-here@example.com", "")
		for _, tc := range []struct{ email, name string }{
			{"known@example.com", ""}, {"KNOWN@example.com", ""}, {"named@example.com", "Wrong Name"}, {"named@example.com", "Real Name"},
		} {
			if got := probe(tc.email, tc.name); got != unknown {
				t.Errorf("import of %s (%q) answers\n%s\nunknown address answers\n%s", tc.email, tc.name, got, unknown)
			}
		}
		// GraphQL answers alike too.
		gq := func(email string) string {
			d := attacker.gql(`mutation($app: ID!, $e: String!) { importUsers(appId: $app, input: {users: [{externalUserId: "x", email: $e}]}) {
				source { counts { imported alreadyConnected invalidRow } } results { row status connectionID message } } }`,
				map[string]any{"app": app.ID, "e": email})
			b, _ := json.Marshal(d)
			return string(b)
		}
		if a, b := gq("known@example.com"), gq("nobody-else@example.com"); a != b {
			t.Errorf("GraphQL import differs:\n%s\n%s", a, b)
		}
		// Nobody was connected to the prober's app, and its users list is empty.
		if _, users := attacker.api(http.MethodGet, "/api/developer/applications/"+app.ID+"/users", nil); users["total"] != float64(0) {
			t.Errorf("users after probing: %v", users)
		}
	})
}

// appEmail used to answer 400 for a wrong guess and 200 for the person's real address, and
// then showed that address to the app. Now every well-formed value is stored as the
// developer's record and the app's view of the person does not move.
func TestAttackAppEmailOracleGone(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		victim := e.browser()
		tok := e.connect(victim, e.app, "secret-address@example.com")
		_, before, _ := e.apiUser(tok.AccessToken)

		dev := e.browser()
		dev.signInTo("dev@example.com")
		conn, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		guess := func(addr string) string {
			status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID, map[string]any{"appEmail": addr})
			if status != 200 {
				t.Fatalf("appEmail %s: %d %s", addr, status, body)
			}
			return strings.ReplaceAll(body, strings.ToLower(strings.TrimSpace(addr)), "GUESS")
		}
		wrong, right := guess("wrong-guess@example.com"), guess("Secret-Address@example.com")
		if wrong != right {
			t.Errorf("appEmail answers differ:\nwrong %s\nright %s", wrong, right)
		}
		// The app still sees the private alias, in /api/user and the list; the relay forwards
		// as before (app_email is the person's choice, untouched).
		_, after, _ := e.apiUser(tok.AccessToken)
		if after["email"] != before["email"] || !strings.HasSuffix(after["email"].(string), "@"+e.srv.cfg.RelayDomain) {
			t.Errorf("/api/user email %v → %v", before["email"], after["email"])
		}
		c, _ := e.srv.db.AppConnection.Get(ctx, conn.ID)
		if c.AppEmail != "" || c.DeveloperEmail != "secret-address@example.com" {
			t.Errorf("connection after guessing: app_email %q developer_email %q", c.AppEmail, c.DeveloperEmail)
		}
		_, list := dev.api(http.MethodGet, "/api/developer/applications/"+e.app.ID+"/users", nil)
		if row := list["users"].([]any)[0].(map[string]any); row["email"] != "-" {
			t.Errorf("the list shows %v", row["email"])
		}
	})
}

// A token granted only openid gets no address and no profile anywhere: /api/user, the
// id_token, introspection; refreshing cannot widen it, and asking for more means consenting
// again.
func TestAttackOpenIDOnlyTokenGetsNoProfile(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.identity.CreateUser(context.Background(), "named@example.com", "Nora Named")
		b := e.browser()
		tok := e.connect(b, e.app, "named@example.com", "openid")
		status, info, _ := e.apiUser(tok.AccessToken)
		keys := make([]string, 0, len(info))
		for k := range info {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if status != 200 || strings.Join(keys, ",") != "id,sub" || info["sub"] != info["id"] {
			t.Fatalf("/api/user with openid only: %d %v", status, info)
		}
		idt, err := oidc.NewProvider(e.ctx(), e.base)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := idt.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(e.ctx(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		parsed.Claims(&claims)
		for _, k := range []string{"email", "email_verified", "name", "picture", "global_id"} {
			if _, ok := claims[k]; ok {
				t.Errorf("openid-only id_token carries %s: %v", k, claims)
			}
		}
		if parsed.Subject != info["sub"] {
			t.Errorf("id_token sub %s, userinfo sub %v", parsed.Subject, info["sub"])
		}
		_, in, _ := e.postForm("/oauth/introspect", e.app, url.Values{"token": {tok.AccessToken}})
		if in["active"] != true || in["scope"] != "openid" || in["email"] != nil || in["name"] != nil {
			t.Errorf("introspection: %v", in)
		}
		// The developer's lists follow the same grant: no name in the users list, the licenses
		// owner or the backend's current logins, and a search by name finds nothing.
		dev := e.browser()
		dev.signInTo("dev@example.com")
		listName := func(q string) (float64, any) {
			_, list := dev.api(http.MethodGet, "/api/developer/applications/"+e.app.ID+"/users?q="+url.QueryEscape(q), nil)
			if users := list["users"].([]any); len(users) > 0 {
				return list["total"].(float64), users[0].(map[string]any)["name"]
			}
			return list["total"].(float64), nil
		}
		if total, name := listName(""); total != 1 || name != nil {
			t.Errorf("users list with openid only: total %v name %v", total, name)
		}
		if total, _ := listName("nora"); total != 0 {
			t.Errorf("search by the unshared name found %v", total)
		}
		currentName := func() any {
			req, _ := http.NewRequest(http.MethodGet, e.base+"/api/applications/"+e.app.ID+"/users", nil)
			req.SetBasicAuth(e.app.ID, e.app.Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			decodeJSON(t, resp, &out)
			return out["users"].([]any)[0].(map[string]any)["displayName"]
		}
		if n := currentName(); n != nil {
			t.Errorf("current logins displayName with openid only: %v", n)
		}
		// Refresh asking for more than was granted: invalid_scope.
		s, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid email profile"}})
		wantOAuthError(t, s, body, hdr, 400, "invalid_scope")
		// Asking for email now shows the consent page again (no silent widening).
		p := b.get(e.config(e.app, rpCallback, "openid", "email").AuthCodeURL("more"))
		if p.StatusCode != 200 || !strings.Contains(p.Body, `value="allow"`) {
			t.Fatalf("wider scope without consent: %d %s", p.StatusCode, p.Header.Get("Location"))
		}
		// With email and profile granted, userinfo and the id_token agree claim for claim.
		full := e.connect(e.browser(), e.app, "named@example.com", "openid", "email", "profile")
		_, info, _ = e.apiUser(full.AccessToken)
		parsed, _ = idt.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(e.ctx(), full.Extra("id_token").(string))
		claims = nil
		parsed.Claims(&claims)
		for _, k := range []string{"sub", "email", "email_verified", "name", "global_id"} {
			if fmt.Sprint(info[k]) != fmt.Sprint(claims[k]) || info[k] == nil {
				t.Errorf("%s: userinfo %v, id_token %v", k, info[k], claims[k])
			}
		}
		if info["name"] != "Nora Named" || info["globalId"] != info["global_id"] {
			t.Errorf("profile claims: %v", info)
		}
		// Granted now, the name shows in the developer's lists too.
		if total, name := listName("nora"); total != 1 || name != "Nora Named" || currentName() != "Nora Named" {
			t.Errorf("after granting profile: total %v name %v", total, name)
		}
	})
}

// A verified alternative address signs in to the same account (recovery when the primary
// mailbox is lost): the same Global ID, and the same connection to an app.
func TestRecoveryByAlternativeAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		laptop := e.browser()
		first := e.connect(laptop, e.app, "main@example.com")
		gid := laptop.viewer()
		laptop.gql(`mutation($c: String) { addAlternativeEmail(email: " Backup@Example.org ", code: $c) { id } }`, map[string]any{"c": laptop.changeCode()})
		verify := e.mailLink("backup@example.org", "/dashboard/emails/verify")
		if _, p := laptop.confirmForm(verify); p.StatusCode != 200 {
			t.Fatalf("verify: %d %s", p.StatusCode, p.Body)
		}
		// The primary mailbox is lost; on a new device the backup address opens the account.
		phone := e.browser()
		phone.signInTo("BACKUP@example.org")
		if got := phone.viewer(); got != gid {
			t.Fatalf("the alternative address opened %s, want %s", got, gid)
		}
		again := e.connect(phone, e.app, "")
		_, a, _ := e.apiUser(first.AccessToken)
		_, b, _ := e.apiUser(again.AccessToken)
		if a["sub"] != b["sub"] || a["globalId"] != gid {
			t.Fatalf("connection via the alternative address: %v, before %v", b, a)
		}
		// Removing the alternative address stops it: the address then starts a new account.
		emails := laptop.gql(`{ viewer { emails(first: 50) { edges { node { id email } } } } }`, nil)["viewer"].(map[string]any)["emails"].(map[string]any)["edges"].([]any)
		id := emails[0].(map[string]any)["node"].(map[string]any)["id"]
		laptop.gql(`mutation($id: ID!, $c: String) { removeAlternativeEmail(emailId: $id, code: $c) { deletedEmailId } }`, map[string]any{"id": id, "c": laptop.changeCode()})
		other := e.browser()
		other.signInTo("backup@example.org")
		if got := other.viewer(); got == gid {
			t.Fatal("a removed alternative address still opens the account")
		}
	})
}

// An address belongs to at most one account: signing up with someone's verified alternative
// reaches their account, verifying an address another account holds is refused (shown to the
// person only), and concurrent attempts leave exactly one holder.
func TestAttackTwoAccountsNeverHoldOneAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		ann := e.browser()
		ann.signInTo("ann@example.com")
		annID := ann.viewer()
		ann.gql(`mutation($c: String) { addAlternativeEmail(email: "shared@example.com", code: $c) { id } }`, map[string]any{"c": ann.changeCode()})
		if _, p := ann.confirmForm(e.mailLink("shared@example.com", "/dashboard/emails/verify")); p.StatusCode != 200 {
			t.Fatalf("verify: %d", p.StatusCode)
		}
		// Signing in with the address reaches Ann's account; no second account appears.
		bob := e.browser()
		bob.signInTo("SHARED@example.com")
		if got := bob.viewer(); got != annID {
			t.Fatalf("signing up with Ann's alternative made account %s", got)
		}
		// Bob's own account tries to verify Ann's addresses: refused, nothing changes.
		bob2 := e.browser()
		bob2.signInTo("bob@example.com")
		for _, addr := range []string{"shared@example.com", "ann@example.com"} {
			bob2.gql(`mutation($e: String!, $c: String) { addAlternativeEmail(email: $e, code: $c) { id } }`, map[string]any{"e": addr, "c": bob2.changeCode()})
			_, p := bob2.confirmForm(e.mailLink(addr, "/dashboard/emails/verify"))
			if p.StatusCode != 409 || !strings.Contains(p.Body, "belongs to another LoginSign account") {
				t.Fatalf("verifying %s from Bob's account: %d %s", addr, p.StatusCode, p.Body)
			}
		}
		// A verification link opened in another account's session explains and changes nothing.
		bob2.gql(`mutation($c: String) { addAlternativeEmail(email: "bob-backup@example.com", code: $c) { id } }`, map[string]any{"c": bob2.changeCode()})
		link := e.mailLink("bob-backup@example.com", "/dashboard/emails/verify")
		// Its page offers Ann no button (pages24), and a POST of its token is refused.
		if get, p := ann.confirmForm(link); p.Response != nil || !strings.Contains(get.Body, `id="confirm-sign-out"`) {
			t.Fatalf("Bob's link's page in Ann's session offers a form: %d %s", get.StatusCode, get.Body)
		}
		if p := ann.post(e.base+"/dashboard/emails/verify", url.Values{"token": {mustToken(t, link)}}); p.StatusCode != 403 {
			t.Fatalf("Bob's link in Ann's session: %d %s", p.StatusCode, p.Body)
		}
		if _, p := bob2.confirmForm(link); p.StatusCode != 200 {
			t.Fatalf("Bob's link in Bob's session after the refusal: %d %s", p.StatusCode, p.Body)
		}

		// Concurrent: five accounts verify the same new address at once; one wins.
		const n = 5
		browsers := make([]*browser, n)
		links := make([]string, n)
		for i := range n {
			browsers[i] = e.browser()
			browsers[i].signInTo(fmt.Sprintf("racer%d@example.com", i))
			browsers[i].gql(`mutation($c: String) { addAlternativeEmail(email: "contested@example.com", code: $c) { id } }`, map[string]any{"c": browsers[i].changeCode()})
			links[i] = e.mailLink("contested@example.com", "/dashboard/emails/verify")
		}
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, p := browsers[i].confirmForm(links[i])
				codes[i] = p.StatusCode
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if fmt.Sprint(codes) != "[200 409 409 409 409]" {
			t.Errorf("concurrent verifications answered %v, want one 200 and four 409", codes)
		}
		// Concurrent sign-ups with one new address make one account.
		var swg sync.WaitGroup
		for range n {
			swg.Add(1)
			go func() {
				defer swg.Done()
				e.srv.identity.EnsureUser(ctx, "newcomer@example.com")
			}()
		}
		swg.Wait()
		// Whatever the path, every address has one holder.
		users, _ := e.srv.db.User.Query().All(ctx)
		alts, _ := e.srv.db.UserEmail.Query().All(ctx)
		holders := map[string]map[string]bool{}
		hold := func(addr, uid string) {
			if holders[addr] == nil {
				holders[addr] = map[string]bool{}
			}
			holders[addr][uid] = true
		}
		for _, u := range users {
			hold(u.Email, u.ID)
		}
		for _, a := range alts {
			if a.VerifiedAt != nil {
				hold(a.Email, a.UserID)
			}
		}
		for addr, who := range holders {
			if len(who) != 1 {
				t.Errorf("%s is held by %d accounts", addr, len(who))
			}
		}
		if len(holders["newcomer@example.com"]) != 1 {
			t.Errorf("newcomer: %v", holders["newcomer@example.com"])
		}
	})
}

// An import proposes; the person links. The pending link reaches the app only when the person
// signs in and allows, on a consent page that names the app's record of them; it can be
// refused from the dashboard; a person who signs up later with the address sees it too.
func TestPendingLinkNeedsThePersonsConsent(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		e.srv.identity.CreateUser(ctx, "linda@example.com", "Linda")
		dev := e.browser()
		dev.signInTo("dev@example.com")
		imp := func(app testApp, rows ...map[string]any) {
			t.Helper()
			if status, out := dev.api(http.MethodPost, "/api/developer/applications/"+app.ID+"/import-existing-users/csv", map[string]any{"users": rows}); status != 200 {
				t.Fatalf("import: %d %v", status, out)
			}
		}
		imp(e.app, map[string]any{"externalUserId": "crm-42", "email": "linda@example.com", "registrationDate": "2020-02-02"},
			map[string]any{"externalUserId": "crm-77", "email": "later@example.com"})
		listed := func() float64 {
			_, users := dev.api(http.MethodGet, "/api/developer/applications/"+e.app.ID+"/users", nil)
			return users["total"].(float64)
		}
		if listed() != 0 {
			t.Fatal("the import connected someone")
		}
		// Linda signs in to the app: the consent page says the app knows her as crm-42.
		linda := e.browser()
		conf := e.config(e.app, rpCallback)
		p := linda.signIn(linda.get(conf.AuthCodeURL("l")), "linda@example.com")
		if !strings.Contains(p.Body, `id="known-as"`) || !strings.Contains(p.Body, "crm-42") {
			t.Fatalf("consent page does not name the app's record:\n%s", p.Body)
		}
		// Denying leaves everything as it was.
		if q := callback(t, linda.consent(p, "deny", "")); q.Get("error") != "access_denied" || listed() != 0 {
			t.Fatalf("deny: %v", q)
		}
		p = linda.get(conf.AuthCodeURL("l2"))
		if !strings.Contains(p.Body, `value="allow_link"`) {
			t.Fatalf("the consent page does not offer to link the record:\n%s", p.Body)
		}
		callback(t, linda.consent(p, "allow_link", ""))
		conn, err := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		if err != nil || conn.ExternalUserID != "crm-42" || !conn.JoinedAt.Equal(time.Date(2020, 2, 2, 0, 0, 0, 0, time.UTC)) || listed() != 1 {
			t.Fatalf("after allowing: %+v %v", conn, err)
		}
		if n, _ := e.srv.db.PendingLink.Query().Where(pendinglink.Email("linda@example.com")).Count(ctx); n != 0 {
			t.Fatal("the accepted link is still pending")
		}

		// A person who signs up later with the imported address sees the proposal and refuses it.
		later := e.browser()
		later.signInTo("later@example.com")
		links := later.gql(`{ viewer { pendingLinks { id applicationName externalUserId email } } }`, nil)["viewer"].(map[string]any)["pendingLinks"].([]any)
		if len(links) != 1 || links[0].(map[string]any)["externalUserId"] != "crm-77" || links[0].(map[string]any)["applicationName"] != "Demo App" {
			t.Fatalf("pending links of the newcomer: %v", links)
		}
		// Nobody else sees or refuses it.
		if d := linda.gql(`{ viewer { pendingLinks { id } } }`, nil); len(d["viewer"].(map[string]any)["pendingLinks"].([]any)) != 0 {
			t.Fatalf("Linda sees %v", d)
		}
		id := links[0].(map[string]any)["id"]
		if _, out := linda.api(http.MethodPost, "/graphql", map[string]any{"query": `mutation($id: ID!) { refusePendingLink(input: {id: $id}) { refusedId } }`,
			"variables": map[string]any{"id": id}}); out["errors"] == nil {
			t.Fatal("another person refused the link")
		}
		later.gql(`mutation($id: ID!) { refusePendingLink(input: {id: $id}) { refusedId } }`, map[string]any{"id": id})
		// A re-run of the import does not revive it, and signing in shows no link.
		imp(e.app, map[string]any{"externalUserId": "crm-77", "email": "later@example.com"})
		p = later.get(conf.AuthCodeURL("x"))
		if strings.Contains(p.Body, `id="known-as"`) {
			t.Fatal("a refused link came back")
		}
		callback(t, later.consent(p, "allow", ""))
		c, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID), appconnection.ExternalUserIDEQ("crm-77")).Count(ctx)
		if c != 0 {
			t.Fatal("a refused link became part of the connection")
		}
	})
}

// An application that knows a person by a relay alias cannot test a guess of their real
// address by importing it and sending the person through a sign-in: an import changes
// nothing in the flow of a person whose consent already covers the request, so prompt=none
// answers with a code and an interactive sign-in shows no page, whether the guess is right
// or wrong. The link is offered when the consent page is shown anyway (prompt=consent here,
// shown whatever was imported), and allowing there links it.
func TestImportedGuessDoesNotChangeAConsentedSignIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		conf := e.config(e.app, rpCallback)
		linda := e.browser()
		callback(t, linda.consent(linda.signIn(linda.get(conf.AuthCodeURL("s")), "linda@example.com"), "allow", "alias"))
		dev := e.browser()
		dev.signInTo("dev@example.com")
		for _, guess := range []string{"nobody@example.com", "linda@example.com"} {
			if status, out := dev.api(http.MethodPost, "/api/developer/applications/"+e.app.ID+"/import-existing-users/csv",
				map[string]any{"users": []map[string]any{{"externalUserId": "probe:" + guess, "email": guess}}}); status != 200 {
				t.Fatalf("import: %d %v", status, out)
			}
			q := callback(t, linda.get(conf.AuthCodeURL("n", oauth2.SetAuthURLParam("prompt", "none"))))
			if q.Get("code") == "" || q.Get("error") != "" {
				t.Fatalf("prompt=none after importing %s answered %v, want a code as for any guess", guess, q)
			}
			if q := callback(t, linda.get(conf.AuthCodeURL("i"))); q.Get("code") == "" {
				t.Fatalf("an interactive sign-in after importing %s answered %v, want a code as for any guess", guess, q)
			}
		}
		if n, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID), appconnection.ExternalUserIDNEQ("")).Count(ctx); n != 0 {
			t.Fatal("a sign-in without a consent page linked the import")
		}
		p := linda.get(conf.AuthCodeURL("c", oauth2.SetAuthURLParam("prompt", "consent")))
		if !strings.Contains(p.Body, `id="known-as"`) || !strings.Contains(p.Body, "probe:linda@example.com") {
			t.Fatalf("the consent page does not offer the link:\n%s", p.Body)
		}
		callback(t, linda.consent(p, "allow_link", ""))
		conn, err := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		if err != nil || conn.ExternalUserID != "probe:linda@example.com" {
			t.Fatalf("after allowing on the consent page: %+v %v", conn, err)
		}
	})
}

// An app that does not ask for the email scope is shown no address of the person's, whatever
// the consent page is sent back: the page offers no choice of address (it names the relay
// alias the developer can write to), a real address posted anyway is refused, and the
// developer's lists show "-". Asking for email later shows the page again, with the choice.
func TestAnAppWithoutTheEmailScopeIsShownNoAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		conf := e.config(e.app, rpCallback, "openid", "profile")
		p := b.signIn(b.get(conf.AuthCodeURL("s")), "pat@example.com")
		if p.StatusCode != 200 || strings.Contains(p.Body, `name="share"`) || !strings.Contains(p.Body, `id="no-address"`) ||
			!strings.Contains(p.Body, "@"+e.srv.cfg.RelayDomain) {
			t.Fatalf("consent page for openid profile offers a choice of address or hides the relay alias:\n%s", p.Body)
		}
		// The person's own browser posting a real address (a page drawn before, a crafted
		// form): refused, nothing stored.
		if q := callback(t, b.consent(p, "allow", "pat@example.com")); q.Get("error") != "invalid_request" {
			t.Errorf("a real address posted without the email scope: callback %v, want invalid_request", q)
		}
		if n := e.srv.db.AppConnection.Query().CountX(e.ctx()); n != 0 {
			t.Errorf("the refused answer left %d connection(s)", n)
		}
		tok := e.connect(b, e.app, "pat@example.com", "openid", "profile")
		if _, info, _ := e.apiUser(tok.AccessToken); info["email"] != nil {
			t.Errorf("/api/user without the email scope: %v", info)
		}
		dev := e.browser()
		dev.signInTo("dev@example.com")
		listEmail := func() any {
			t.Helper()
			_, list := dev.api(http.MethodGet, "/api/developer/applications/"+e.app.ID+"/users", nil)
			return list["users"].([]any)[0].(map[string]any)["email"]
		}
		if got := listEmail(); got != "-" {
			t.Errorf("the developer's list shows %v without the email scope, want -", got)
		}
		// Asking for email: the page again, with the choice; a real address chosen now shows.
		p = b.get(e.config(e.app, rpCallback, "openid", "email").AuthCodeURL("more"))
		if p.StatusCode != 200 || !strings.Contains(p.Body, `name="share" value="pat@example.com"`) || strings.Contains(p.Body, `id="no-address"`) {
			t.Fatalf("consent page asking for email: %d\n%s", p.StatusCode, p.Body)
		}
		if q := callback(t, b.consent(p, "allow", "pat@example.com")); q.Get("code") == "" {
			t.Fatalf("allowing email with a real address: %v", q)
		}
		if got := listEmail(); got != "pat@example.com" {
			t.Errorf("the developer's list shows %v once the address is shared, want pat@example.com", got)
		}
		// Asking for profile only again: the granted email stays, so does the choice.
		p = b.get(e.config(e.app, rpCallback, "openid", "profile").AuthCodeURL("again", oauth2.SetAuthURLParam("prompt", "consent")))
		if p.StatusCode != 200 || !strings.Contains(p.Body, `name="share" value="pat@example.com" checked`) {
			t.Fatalf("consent page of an app granted email, asking profile: %d\n%s", p.StatusCode, p.Body)
		}
	})
}
