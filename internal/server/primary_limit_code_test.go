package server

import (
	"testing"
	"time"
)

// A primary-address change past the day's budget is refused before its code is looked at: the
// recovery code typed with it stays the person's. Before, the code was checked (and a
// recovery code spent) first, and only then the budget refused the change.
func TestAPrimaryChangePastTheDaysBudgetSpendsNoCode(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.account.PrimaryChanges.N = 1
		person := e.browser()
		person.signInTo(defaultTestEmail)
		otherID := person.addVerifiedEmail("other@example.com")
		secret, recovery := enrolTOTP(t, person)
		// An app set up after the session's sign-in confirms nothing (mfa.ConfirmChange): the
		// person signs in again through it, with its next code (no recovery code spent).
		person, _ = e.secondStep(t, e.base+"/login", defaultTestEmail)
		if p := person.code(totpCode(t, secret, time.Now().Add(30*time.Second))); p.StatusCode != 200 {
			t.Fatalf("signing in again with a recovery code: %d %s", p.StatusCode, p.Request.URL)
		}
		const change = `mutation($id: ID!, $c: String) { setPrimaryEmail(input: {emailId: $id, code: $c}) { user { id } } }`
		if got := person.gqlCode(change, map[string]any{"id": otherID, "c": recovery[0]}); got != "" {
			t.Fatalf("the day's one change: %q", got)
		}
		firstID := e.userByEmail("other@example.com")
		if firstID == nil {
			t.Fatal("the change did not make other@example.com the primary address")
		}
		back := person.gql(`{ viewer { emails(first: 10) { edges { node { id email } } } } }`, nil)
		var oldID string
		for _, edge := range back["viewer"].(map[string]any)["emails"].(map[string]any)["edges"].([]any) {
			if m := edge.(map[string]any)["node"].(map[string]any); m["email"] == defaultTestEmail {
				oldID = m["id"].(string)
			}
		}
		if got := person.gqlCode(change, map[string]any{"id": oldID, "c": recovery[1]}); got != "rate_limited" {
			t.Fatalf("a second change the same day: %q, want rate_limited", got)
		}
		data := person.gql(`{ viewer { twoStep { recoveryCodesLeft } } }`, nil)
		if left := data["viewer"].(map[string]any)["twoStep"].(map[string]any)["recoveryCodesLeft"]; left != float64(9) {
			t.Fatalf("recovery codes left after a change the budget refused: %v, want 9 (only the first change's spent)", left)
		}
	})
}
