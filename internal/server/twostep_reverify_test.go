package server

import (
	"net/url"
	"testing"
	"time"

	"loginsign/ent/passkey"
	"loginsign/ent/useremail"
)

// TestChangesThatCouldTakeTheAccountAskTheSecondStepAgain: with two-step verification on, a
// session cookie copied in the first 15 minutes after the sign-in (its sign-in is recent, and
// passed the second step) made another address the primary one, removed the person's, removed
// their passkey and closed the account, with no code: the thief's verified mailbox became the
// account's, and the person's next magic link opened a new, empty account. Adding a passkey
// already asked for a code for this reason. Now each of these asks for a current code (TOTP or
// recovery; second_step_required without one, spending no try), under both names of each
// mutation, and goes through with one; without two-step verification nothing more is asked
// (TestAStolenSessionCannotChangeHowThePersonSignsIn) than the code mailed to them
// (changecode_checks10_test.go).
func TestChangesThatCouldTakeTheAccountAskTheSecondStepAgain(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		person := e.browser()
		person.signInTo(defaultTestEmail)
		u := e.userByEmail(defaultTestEmail)
		const other = "other@example.com"
		otherID := person.addVerifiedEmail(other)
		secret, recovery := enrolTOTP(t, person)
		// An app set up after the session's sign-in confirms nothing (mfa.ConfirmChange): the
		// person signs in again through it, with a recovery code.
		person, _ = e.secondStep(t, e.base+"/login", defaultTestEmail)
		if p := person.code(recovery[len(recovery)-1]); p.StatusCode != 200 {
			t.Fatalf("signing in again with a recovery code: %d %s", p.StatusCode, p.Request.URL)
		}
		e.addSoftKey(t, u.ID)

		thief := e.browser()
		base, _ := url.Parse(e.base)
		thief.Jar.SetCookies(base, person.Jar.Cookies(base))
		ctx := e.ctx()
		keyID := e.srv.db.Passkey.Query().Where(passkey.UserID(u.ID)).OnlyIDX(ctx)

		for _, c := range []struct{ name, query string }{
			{"setPrimaryEmail", `mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`},
			{"makePrimaryEmail", `mutation($id: ID!, $c: String) { makePrimaryEmail(emailId: $id, code: $c) { id } }`},
		} {
			for _, tt := range []struct {
				code any
				want string
			}{{nil, "second_step_required"}, {"", "second_step_required"}, {"000000", "invalid_request"}} {
				if got := thief.gqlCode(c.query, map[string]any{"id": otherID, "c": tt.code}); got != tt.want {
					t.Errorf("%s with code %v and two-step verification on: %q, want %s", c.name, tt.code, got, tt.want)
				}
			}
		}
		if got := e.userByEmail(defaultTestEmail); got == nil || got.ID != u.ID {
			t.Fatalf("the refused changes moved the primary address: %v", got)
		}
		for _, c := range []struct{ name, query string }{
			{"removeEmail", `mutation($id: ID!, $c: String) { removeEmail(input: {emailId: $id, code: $c}) { deletedEmailId } }`},
			{"removeAlternativeEmail", `mutation($id: ID!, $c: String) { removeAlternativeEmail(emailId: $id, code: $c) { deletedEmailId } }`},
		} {
			if got := thief.gqlCode(c.query, map[string]any{"id": otherID}); got != "second_step_required" {
				t.Errorf("%s without a code: %q, want second_step_required", c.name, got)
			}
		}
		if got := thief.gqlCode(`mutation($id: ID!) { deletePasskey(input: {id: $id}) { deletedId } }`, map[string]any{"id": keyID}); got != "second_step_required" {
			t.Errorf("deletePasskey without a code: %q, want second_step_required", got)
		}
		for _, q := range []string{
			`mutation($g: String!) { closeAccount(input: {confirmGlobalId: $g}) { endedConnections } }`,
			`mutation($g: String!) { deleteAccount(confirmGlobalId: $g) { endedConnections } }`,
		} {
			if got := thief.gqlCode(q, map[string]any{"g": u.GlobalID}); got != "second_step_required" {
				t.Errorf("closing the account without a code: %q, want second_step_required", got)
			}
		}
		if n := e.srv.db.UserEmail.Query().Where(useremail.UserID(u.ID), useremail.Email(other)).CountX(ctx); n != 1 {
			t.Errorf("the refused removals left %d of the other address, want 1", n)
		}
		if n := e.srv.db.Passkey.Query().Where(passkey.UserID(u.ID)).CountX(ctx); n != 1 {
			t.Errorf("the refused removal left %d passkeys, want 1", n)
		}

		// The person, with their authenticator app and recovery codes, does each.
		if got := person.gqlCode(`mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`,
			map[string]any{"id": otherID, "c": totpCode(t, secret, time.Now().Add(30*time.Second))}); got != "" {
			t.Fatalf("setPrimaryEmail with a current code: %q", got)
		}
		// The old primary address is now an alternative one, which the person removes.
		ownID := e.srv.db.UserEmail.Query().Where(useremail.UserID(u.ID), useremail.Email(defaultTestEmail)).OnlyIDX(ctx)
		if got := person.gqlCode(`mutation($id: ID!, $c: String) { removeEmail(input: {emailId: $id, code: $c}) { deletedEmailId } }`,
			map[string]any{"id": ownID, "c": recovery[0]}); got != "" {
			t.Fatalf("removeEmail with a recovery code: %q", got)
		}
		if got := person.gqlCode(`mutation($id: ID!, $c: String) { deletePasskey(input: {id: $id, code: $c}) { deletedId } }`,
			map[string]any{"id": keyID, "c": recovery[1]}); got != "" {
			t.Fatalf("deletePasskey with a recovery code: %q", got)
		}
		// A mistyped Global User ID spends no recovery code: it is checked first.
		if got := person.gqlCode(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`,
			map[string]any{"g": "ZZ0000", "c": recovery[2]}); got != "confirmation_mismatch" {
			t.Errorf("closeAccount with another Global User ID: %q, want confirmation_mismatch", got)
		}
		if got := person.gqlCode(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`,
			map[string]any{"g": u.GlobalID, "c": recovery[2]}); got != "" {
			t.Fatalf("closeAccount with a recovery code: %q", got)
		}
		if e.userByEmail(other) != nil {
			t.Error("the account is still there after it was closed")
		}
	})
}
