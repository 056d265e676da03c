package server

import (
	"fmt"
	"net/http"
	"testing"

	"loginsign/internal/team"
)

// TestAnInvitationAnswersAlikeWhateverOtherAccountsSentTheAddress: free developer accounts
// invite one address past every shared budget; a team inviting it next, through REST and
// GraphQL, is answered as for an address nobody invited (201 and the same fields; no error),
// and the address received DefaultInvitationMailsPerAddress mails. Before, the team got 429
// for a day: the other accounts had spent the address's budget, and the answer told the team
// that other applications had invited it.
func TestAnInvitationAnswersAlikeWhateverOtherAccountsSentTheAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		const victim = "wanted@example.net"
		m := e.teamMail()
		for i := range team.DefaultInvitationMailsPerAddress.N + 1 {
			dev := e.person(fmt.Sprintf("griefer-%d@example.com", i), "Griefer", true)
			app := dev.createApp(fmt.Sprintf("Grief%d", i), false)
			dev.do("POST", "/api/developer/applications/"+app+"/members/invitations", map[string]any{"email": victim, "role": "support"})
		}
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Real", false)
		invite := func(email string) map[string]any {
			body := owner.json("POST", "/api/developer/applications/"+app+"/members/invitations",
				map[string]any{"email": email, "role": "developer"}, http.StatusCreated)
			inv, _ := body["invitation"].(map[string]any)
			return inv
		}
		busy, quiet := invite(victim), invite("nobody-invited@example.net")
		if len(busy) != len(quiet) || busy["role"] != quiet["role"] || busy["email"] != victim {
			t.Errorf("REST answers %v for the address others invited, %v for another", busy, quiet)
		}
		for k := range quiet {
			if _, ok := busy[k]; !ok {
				t.Errorf("REST: %q missing from the answer for the address others invited: %v", k, busy)
			}
		}
		const q = `mutation($app: ID!, $email: String!) { inviteMember(input: {applicationId: $app, email: $email, role: SUPPORT}) { invitation { role expiresAt } } }`
		for _, email := range []string{victim, "nobody-else@example.net"} {
			if g := owner.gql(q, map[string]any{"app": app, "email": email}); len(g.Errors) != 0 {
				t.Errorf("GraphQL, %s: %+v", email, g.Errors)
			}
		}
		n := 0
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, msg := range m.msgs {
			if msg.To == victim {
				n++
			}
		}
		if n != team.DefaultInvitationMailsPerAddress.N {
			t.Errorf("the address received %d invitation mails, want %d", n, team.DefaultInvitationMailsPerAddress.N)
		}
	})
}
