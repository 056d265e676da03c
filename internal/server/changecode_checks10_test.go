package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/ent/passkey"
	"loginsign/ent/useremail"
	"loginsign/internal/passkey/passkeytest"
)

// changeCodeSubject is the subject of the mail of sendConfirmationCode (English).
const changeCodeSubject = "Your LoginSign confirmation code"

// mailboxCode reads the test SMTP server's mail, in order, until a confirmation code mail to
// to, and returns its code: the person reading their mailbox.
func (e *oauthEnv) mailboxCode(to string) string {
	e.t.Helper()
	for range 6 {
		m := e.smtp.Next(e.t, 10*time.Second)
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) || m.Subject != changeCodeSubject {
			continue
		}
		if code := mailedCode(m.Text); code != "" {
			return code
		}
		e.t.Fatalf("no code in the confirmation code mail to %s:\n%s", to, m.Text)
	}
	e.t.Fatalf("no confirmation code mailed to %s", to)
	return ""
}

// mailsTo counts the mails the test SMTP server received for addr.
func (e *oauthEnv) mailsTo(addr string) int {
	n := 0
	for _, m := range e.smtp.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				n++
			}
		}
	}
	return n
}

// A copy of the session cookie of a sign-in of the last 15 minutes (malware, a shared
// computer, a leaked HAR file), of a person without two-step verification, was enough to add
// the thief's address or passkey, make an address primary, remove one and close the account:
// the recent sign-in was the only check. Now each of these, under both names, answers
// confirmation_code_required without the code mailed to the person's own address, a guessed
// code is refused, and nothing changes: the account keeps its addresses, no passkey is added,
// no mail goes to the thief's address; the code the thief asks for goes to the person's
// mailbox. The person, with the code from their mailbox, makes each change; a code works once.
// Over real HTTP, on SQLite and PostgreSQL.
func TestACopiedRecentSessionCannotTakeTheAccountWithoutTheMailedCode(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		ctx := context.Background()
		const who, alt, mallory = "pat@example.com", "pat.alt@example.com", "mallory@evil.example"
		person := e.browser()
		person.signInTo(who)
		before := e.userByEmail(who)
		e.srv.db.UserEmail.Create().SetUserID(before.ID).SetEmail(alt).SetVerifiedAt(time.Now()).SaveX(ctx)
		altID := emailID(t, person, alt)
		thief := e.browser()
		base, _ := url.Parse(e.base)
		thief.Jar.SetCookies(base, person.Jar.Cookies(base))
		if got := thief.viewer(); got != before.GlobalID {
			t.Fatalf("the copied cookie opens %s, want the person's account %s", got, before.GlobalID)
		}
		mails := e.smtp.Count()

		// The mutations as a thief sends them, without the code.
		opts := thief.gql(beginPasskeyMutation, nil)["beginPasskeyRegistration"].(map[string]any)["options"].(string)
		for _, op := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"addEmail", `mutation($e: String!) { addEmail(input: {email: $e}) { userEmail { id } } }`, map[string]any{"e": mallory}},
			{"addAlternativeEmail", `mutation($e: String!) { addAlternativeEmail(email: $e) { id } }`, map[string]any{"e": mallory}},
			{"setPrimaryEmail", `mutation($id: ID!) { setPrimaryEmail(input: {emailId: $id}) { user { id } } }`, map[string]any{"id": altID}},
			{"makePrimaryEmail", `mutation($id: ID!) { makePrimaryEmail(emailId: $id) { id } }`, map[string]any{"id": altID}},
			{"removeEmail", `mutation($id: ID!) { removeEmail(input: {emailId: $id}) { deletedEmailId } }`, map[string]any{"id": altID}},
			{"removeAlternativeEmail", `mutation($id: ID!) { removeAlternativeEmail(emailId: $id) { deletedEmailId } }`, map[string]any{"id": altID}},
			{"finishPasskeyRegistration", finishPasskeyMutation, map[string]any{"c": passkeytest.New(t, false).Register(t, opts, e.base, 0)}},
			{"closeAccount", `mutation($g: String!) { closeAccount(input: {confirmGlobalId: $g}) { endedConnections } }`, map[string]any{"g": before.GlobalID}},
			{"deleteAccount", `mutation($g: String!) { deleteAccount(confirmGlobalId: $g) { endedConnections } }`, map[string]any{"g": before.GlobalID}},
		} {
			if got := thief.gqlCode(op.query, op.vars); got != "confirmation_code_required" {
				t.Errorf("%s from a copied recent session, no code: %q, want confirmation_code_required", op.name, got)
			}
		}
		// A guessed code does no better.
		if got := thief.gqlCode(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
			map[string]any{"e": mallory, "c": "1234 5678"}); got != "invalid_request" {
			t.Errorf("addEmail with a guessed code: %q, want invalid_request", got)
		}
		// The code the thief asks for goes to the person's mailbox.
		sent := thief.gql(sendCodeMutation, nil)["sendConfirmationCode"].(map[string]any)["sentTo"]
		if sent != who {
			t.Errorf("sendConfirmationCode from the copied session mailed %v, want the person's address %s", sent, who)
		}
		code := e.mailboxCode(who)

		after := e.userByEmail(who)
		if after == nil || after.ID != before.ID || after.Version != before.Version {
			t.Fatalf("the account's primary address changed: %+v, before %+v", after, before)
		}
		var addrs []string
		for _, ue := range e.srv.db.UserEmail.Query().Where(useremail.UserID(before.ID)).AllX(ctx) {
			addrs = append(addrs, ue.Email)
		}
		if len(addrs) != 1 || addrs[0] != alt {
			t.Errorf("the account's other addresses: %v, want only %s", addrs, alt)
		}
		if n := e.srv.db.Passkey.Query().Where(passkey.UserID(before.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d passkeys were added", n)
		}
		if n := e.mailsTo(mallory); n != 0 {
			t.Errorf("%d mails went to the thief's address", n)
		}
		if n := e.smtp.Count() - mails; n != 1 {
			t.Errorf("%d mails sent, want only the code to the person", n)
		}

		// The person, with the code from their mailbox.
		const addCode = `mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`
		added := person.gql(addCode, map[string]any{"e": "pat.work@example.com", "c": code})
		workID := added["addEmail"].(map[string]any)["userEmail"].(map[string]any)["id"].(string)
		e.mailLink("pat.work@example.com", "/dashboard/emails/verify")
		const remove = `mutation($id: ID!, $c: String) { removeEmail(input: {emailId: $id, code: $c}) { deletedEmailId } }`
		if got := person.gqlCode(remove, map[string]any{"id": workID, "c": code}); got != "invalid_request" {
			t.Errorf("a code used a second time: %q, want invalid_request", got)
		}
		person.gql(`mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`,
			map[string]any{"id": altID, "c": person.mailedCodeFor(who)})
		if got := e.userByEmail(alt); got == nil || got.ID != before.ID {
			t.Fatalf("setPrimaryEmail with the mailed code: %s is the primary address of %+v", alt, got)
		}
		// The codes still go to the address this session's sign-in proved, now an alternative.
		person.gql(remove, map[string]any{"id": workID, "c": person.mailedCodeFor(who)})
		opts = person.gql(beginPasskeyMutation, nil)["beginPasskeyRegistration"].(map[string]any)["options"].(string)
		person.gql(finishPasskeyWithCodeMutation, map[string]any{"c": passkeytest.New(t, false).Register(t, opts, e.base, 0),
			"code": person.mailedCodeFor(who)})
		if n := e.srv.db.Passkey.Query().Where(passkey.UserID(before.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d passkeys after the person added one", n)
		}
		person.gql(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`,
			map[string]any{"g": before.GlobalID, "c": person.mailedCodeFor(who)})
		if e.userByEmail(alt) != nil {
			t.Error("the account is still there after the person closed it")
		}
	})
}

// mailedCodeFor asks for a confirmation code from b's session and reads it in the mailbox of
// to (the test SMTP server), where it must arrive.
func (b *browser) mailedCodeFor(to string) string {
	b.e.t.Helper()
	if sent := b.gql(sendCodeMutation, nil)["sendConfirmationCode"].(map[string]any)["sentTo"]; sent != to {
		b.e.t.Fatalf("sendConfirmationCode mailed %v, want %s", sent, to)
	}
	return b.e.mailboxCode(to)
}

// A developer (or a thief who registered an app the person uses) proposes the thief's address
// for the person's connection; the confirm link goes to the thief's mailbox. With a copy of
// the person's recent session cookie, posting the confirm page made the thief's address the
// account's primary one, and the thief's next magic link opened the account. Now the page asks
// for the code mailed to the person's address: without it, or with a guessed one, nothing
// changes, and its button mails the code to the person, not to the proposed address.
func TestACopiedRecentSessionCannotConfirmAProposedAddressWithoutTheMailedCode(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		const who, mallory = "pat@example.com", "mallory@evil.example"
		person := e.browser()
		e.connect(person, e.app, who)
		before := e.userByEmail(who)
		conn := e.srv.db.AppConnection.Query().
			Where(appconnection.UserID(before.ID), appconnection.ApplicationID(e.app.ID)).OnlyX(ctx)
		dev := e.browser()
		dev.signInTo("dev@example.com")
		if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
			map[string]any{"email": mallory}); status != 200 {
			t.Fatalf("the proposal: %d %s", status, body)
		}
		confirm := e.mailLink(mallory, "/account/email-change/confirm") // in the thief's mailbox
		e.mailLink(who, "/account/email-change/cancel")
		thief := e.browser()
		base, _ := url.Parse(e.base)
		thief.Jar.SetCookies(base, person.Jar.Cookies(base))
		unchanged := func(when string) {
			t.Helper()
			if got := e.userByEmail(who); got == nil || got.ID != before.ID || got.Version != before.Version {
				t.Fatalf("%s: the person's primary address changed: %+v, before %+v", when, got, before)
			}
			if got := e.userByEmail(mallory); got != nil {
				t.Fatalf("%s: the thief's address opens account %s", when, got.GlobalID)
			}
		}

		get, post := thief.confirmForm(confirm)
		if get.StatusCode != 200 || !strings.Contains(get.Body, `name="code"`) {
			t.Errorf("the confirm page in the copied session: %d, want its form with a code field:\n%s", get.StatusCode, get.Body)
		}
		if post.Response == nil || post.StatusCode != http.StatusBadRequest {
			t.Errorf("confirming from the copied session without a code: %v, want 400", post.Response != nil && post.StatusCode == 200)
		}
		unchanged("confirmed without a code")
		token := strings.TrimPrefix(confirm, e.base+"/account/email-change/confirm?token=")
		if p := thief.post(e.base+"/account/email-change/confirm", url.Values{"token": {token}, "code": {"12345678"}}); p.StatusCode != http.StatusBadRequest {
			t.Errorf("confirming with a guessed code: %d, want 400", p.StatusCode)
		}
		unchanged("confirmed with a guessed code")

		// The page's button mails the code to the person's address, not to the proposed one.
		mails := e.mailsTo(mallory)
		if p := thief.post(e.base+"/account/email-change/code", url.Values{"token": {token}}); p.StatusCode != 200 {
			t.Errorf("the send-code button: %d", p.StatusCode)
		}
		e.mailboxCode(who)
		if n := e.mailsTo(mallory) - mails; n != 0 {
			t.Errorf("%d mails went to the proposed address after the send-code button", n)
		}
		unchanged("after the send-code button")
	})
}
