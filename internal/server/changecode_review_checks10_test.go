package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/ent/useremail"
)

// A thief holding a copy of the session cookie of the person's recent sign-in (two-step
// verification off), but not their mailbox, sets up their own authenticator app in it (which
// asks no mailed code) and then gives its codes where the person's mailed code is asked: their
// own address added (then verified, made primary, the person's removed) and the account is
// theirs. The app set up after the session's sign-in must not stand in for the mailed code.
func TestAThiefsOwnAppDoesNotSkipThePersonsMailedCode(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		stolen := e.browser()
		stolen.signInTo("pat@example.com")
		pat := e.userByEmail("pat@example.com")
		secret, _ := enrolTOTP(t, stolen)
		code := stolen.gqlCode(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
			map[string]any{"e": "mallory@evil.example", "c": totpCode(t, secret, time.Now().Add(30*time.Second))})
		if code == "" {
			t.Errorf("addEmail with the code of the app the session itself set up went through; want it refused")
		}
		n := e.srv.db.UserEmail.Query().Where(useremail.UserID(pat.ID), useremail.Email("mallory@evil.example")).CountX(context.Background())
		if n != 0 {
			t.Errorf("the thief's address was added to Pat's account")
		}
	})
}

// The confirm page's "Mail me a code" (POST /account/email-change/code) mails only the
// signed-in person the change is for: signed out, or from another LoginSign account (the
// developer who proposed their own address), it mails nobody and never shows the person's
// address; a form over its limit is a 4xx (410: the link pages read it as no token), and a cross-site POST is refused. The person's own
// button mails their primary address, and past five an hour it mails nothing more.
func TestTheConfirmPagesCodeButtonMailsOnlyThePerson(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		person := e.browser()
		e.connect(person, e.app, "pat@example.com")
		conn, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		dev := e.browser()
		dev.signInTo("dev@example.com")
		if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
			map[string]any{"email": "dev.own@example.com"}); status != 200 {
			t.Fatalf("proposal: %d %s", status, body)
		}
		confirm := e.mailLink("dev.own@example.com", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")
		u, _ := url.Parse(confirm)
		token := u.Query().Get("token")
		codePath := e.base + "/account/email-change/code"

		mails := e.smtp.Count()
		for who, c := range map[string]struct {
			b    *browser
			want int
		}{"signed out": {e.browser(), http.StatusUnauthorized}, "the developer's account": {dev, http.StatusForbidden}} {
			p := c.b.post(codePath, url.Values{"token": {token}})
			if p.StatusCode != c.want || strings.Contains(p.Body, "pat@example.com") {
				t.Errorf("the code button %s: %d, want %d without the person's address: %.300s", who, p.StatusCode, c.want, p.Body)
			}
		}
		if p := person.post(codePath, url.Values{"token": {strings.Repeat("a", 10<<10)}}); p.StatusCode < 400 || p.StatusCode >= 500 {
			t.Errorf("a 10 KB token: %d, want a 4xx", p.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, codePath, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if resp, err := person.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("a cross-site POST of the code button: %v %v, want 403", resp.StatusCode, err)
		} else {
			resp.Body.Close()
		}
		time.Sleep(200 * time.Millisecond)
		if n := e.smtp.Count(); n != mails {
			t.Fatalf("%d mails sent by refused requests, want none", n-mails)
		}

		for i := range 5 {
			p := person.post(codePath, url.Values{"token": {token}})
			if p.StatusCode != 200 || !strings.Contains(p.Body, "pat@example.com") {
				t.Fatalf("the person's code button (%d): %d %.300s", i+1, p.StatusCode, p.Body)
			}
			m := e.smtp.Next(t, 10*time.Second)
			if len(m.To) != 1 || m.To[0] != "pat@example.com" {
				t.Fatalf("the code went to %v, want pat@example.com", m.To)
			}
		}
		if p := person.post(codePath, url.Values{"token": {token}}); p.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a sixth code within the hour: %d, want 429", p.StatusCode)
		}
	})
}

// sendConfirmationCode with an address id that is not a verified address of the person's
// (another person's, an unverified one of their own, nonsense, 10 KB) mails nobody and answers
// not_found or a 4xx, telling nothing of the other person.
func TestSendConfirmationCodeMailsOnlyThePersonsVerifiedAddresses(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		other := e.browser()
		other.signInTo("carl@example.com")
		carl := e.userByEmail("carl@example.com")
		carls := e.srv.db.UserEmail.Create().SetUserID(carl.ID).SetEmail("carl.alt@example.com").SetVerifiedAt(time.Now()).SaveX(ctx)
		pat := e.browser()
		pat.signInTo("pat@example.com")
		patID := e.userByEmail("pat@example.com").ID
		pending := e.srv.db.UserEmail.Create().SetUserID(patID).SetEmail("pat.new@example.com").SaveX(ctx)
		mails := e.smtp.Count()
		for name, id := range map[string]string{"another person's": carls.ID, "unverified": pending.ID,
			"nonsense": "nonsense", "10 KB": strings.Repeat("x", 10<<10)} {
			status, out := pat.api(http.MethodPost, "/graphql", map[string]any{
				"query":     `mutation($id: ID) { sendConfirmationCode(input: {emailId: $id}) { sentTo } }`,
				"variables": map[string]any{"id": id}})
			errs, _ := out["errors"].([]any)
			if status >= 500 || len(errs) == 0 || strings.Contains(fmt.Sprint(out), "carl") {
				t.Errorf("sendConfirmationCode to %s address: %d %v, want an error that names nobody", name, status, out)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if n := e.smtp.Count(); n != mails {
			t.Errorf("%d mails sent, want none", n-mails)
		}
	})
}

// The older names of the guarded changes (addAlternativeEmail, makePrimaryEmail,
// removeAlternativeEmail, deleteAccount) ask the same mailed code: without one, or with a
// guessed one, a recent session of a person without two-step verification changes nothing.
func TestTheDeprecatedMutationsAskTheMailedCodeToo(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		stolen := e.browser()
		stolen.signInTo("pat@example.com")
		pat := e.userByEmail("pat@example.com")
		alt := e.srv.db.UserEmail.Create().SetUserID(pat.ID).SetEmail("pat.alt@example.com").SetVerifiedAt(time.Now()).SaveX(ctx)
		mails := e.smtp.Count()
		for _, op := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"addAlternativeEmail", `mutation($c: String) { addAlternativeEmail(email: "mallory@evil.example", code: $c) { id } }`, nil},
			{"makePrimaryEmail", `mutation($id: ID!, $c: String) { makePrimaryEmail(emailId: $id, code: $c) { id } }`, map[string]any{"id": alt.ID}},
			{"removeAlternativeEmail", `mutation($id: ID!, $c: String) { removeAlternativeEmail(emailId: $id, code: $c) { deletedEmailId } }`, map[string]any{"id": alt.ID}},
			{"deleteAccount", `mutation($g: String!, $c: String) { deleteAccount(confirmGlobalId: $g, code: $c) { endedConnections } }`, map[string]any{"g": pat.GlobalID}},
		} {
			for _, c := range []any{nil, "12345678"} {
				vars := map[string]any{"c": c}
				for k, v := range op.vars {
					vars[k] = v
				}
				if code := stolen.gqlCode(op.query, vars); code == "" {
					t.Errorf("%s with code %v went through", op.name, c)
				}
			}
		}
		if got := e.userByEmail("pat@example.com"); got == nil || got.Version != pat.Version {
			t.Errorf("the account changed")
		}
		if n := e.srv.db.UserEmail.Query().Where(useremail.UserID(pat.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d alternative addresses, want the one there was", n)
		}
		if n := e.smtp.Count(); n != mails {
			t.Errorf("%d mails sent, want none", n-mails)
		}
	})
}

// A developer (a free account) proposes their own address for a person connected to their app
// and holds a copy of the person's recent session cookie: setting up their own authenticator
// app in it must not let them confirm the proposal with its code instead of the person's
// mailed code (the account would move to the developer's mailbox).
func TestADevelopersOwnAppDoesNotConfirmTheirProposal(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		stolen := e.browser()
		e.connect(stolen, e.app, "pat@example.com")
		pat := e.userByEmail("pat@example.com")
		conn, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		dev := e.browser()
		dev.signInTo("dev@example.com")
		if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
			map[string]any{"email": "dev.own@example.com"}); status != 200 {
			t.Fatalf("proposal: %d %s", status, body)
		}
		confirm := e.mailLink("dev.own@example.com", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")
		secret, _ := enrolTOTP(t, stolen)
		u, _ := url.Parse(confirm)
		p := stolen.post(e.base+"/account/email-change/confirm", url.Values{"token": {u.Query().Get("token")},
			"code": {totpCode(t, secret, time.Now().Add(30*time.Second))}})
		if got := e.userByEmail("dev.own@example.com"); got != nil && got.ID == pat.ID {
			t.Errorf("the proposal was confirmed with the app the copied session set up (%d): the account is the developer's", p.StatusCode)
		}
	})
}
