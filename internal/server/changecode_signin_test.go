package server

import (
	"testing"
)

// The confirmation code goes where the session's sign-in was read: a person who lost their
// primary mailbox and signed in through a verified alternative address gets the code there
// (and with it makes that address the primary one), while a session of a sign-in through the
// primary address gets it at the primary address.
func TestAConfirmationCodeGoesToTheAddressTheSignInProved(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const primary, alt = "pat@example.com", "pat.alt@example.org"
		first := e.browser()
		first.signInTo(primary)
		altID := first.addVerifiedEmail(alt)
		sentTo := func(b *browser) any {
			return b.gql(sendCodeMutation, nil)["sendConfirmationCode"].(map[string]any)["sentTo"]
		}
		if got := sentTo(first); got != primary {
			t.Errorf("the code of a session signed in through %s went to %v", primary, got)
		}

		lost := e.browser()
		lost.signInTo(alt)
		if got := sentTo(lost); got != alt {
			t.Fatalf("the code of a session signed in through %s went to %v", alt, got)
		}
		code := e.srv.codeMailbox().last(t, alt)
		if got := lost.gqlCode(`mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`,
			map[string]any{"id": altID, "c": code}); got != "" {
			t.Fatalf("making %s primary with the code mailed there: %q", alt, got)
		}
		if u := e.userByEmail(alt); u == nil {
			t.Fatalf("%s is not the primary address after the change", alt)
		}
	})
}
