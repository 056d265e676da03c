package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAnExMembersSessionReadsNothingAndAnOldLinkDoesNotBringItBack (review helper rev7c):
// the owner invites a developer twice (the first mail was slow), the developer joins with the
// first link, the owner removes them. With the session they had on the team, every REST
// route and GraphQL field they read before answers not_found (the answer for a missing
// application), in one GraphQL operation too. The second link, still open, must neither be
// listed to them nor bring them back (REST or GraphQL): the removal is the owner's latest
// word.
func TestAnExMembersSessionReadsNothingAndAnOldLinkDoesNotBringItBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Kept", true)
		ex := e.person("ex@example.com", "Ex Member", true)
		m := e.teamMail()
		base := "/api/developer/applications/" + app
		owner.json("POST", base+"/members/invitations", map[string]any{"email": ex.user.Email, "role": "developer"}, http.StatusCreated)
		first := m.token(t, ex.user.Email)
		owner.json("POST", base+"/members/invitations", map[string]any{"email": ex.user.Email, "role": "developer"}, http.StatusCreated)
		second := m.token(t, ex.user.Email)
		if first == second {
			t.Fatal("one token for two invitations")
		}
		ex.json("POST", "/api/developer/invitations/accept", map[string]any{"token": first}, http.StatusOK)

		reads := []string{"", "/members", "/users", "/activity", "/webhook/events", "/licenses/variants", "/licenses/codes"}
		for _, r := range reads {
			if status, body := ex.do("GET", base+r, nil); status != http.StatusOK {
				t.Fatalf("as a member, GET %s = %d %s", base+r, status, body)
			}
		}
		const q = `query($app: ID!) { a: application(id: $app) { id name redirectUris webhookUrl members { userId } }
			b: application(id: $app) { users { totalCount } activity { events { id } } } }`
		if g := ex.gql(q, map[string]any{"app": app}); len(g.Errors) != 0 {
			t.Fatalf("as a member, the query: %+v", g.Errors)
		}

		g := owner.gql(`mutation($app: ID!, $u: ID!) { removeMember(input: {applicationId: $app, userId: $u}) { removedUserId } }`,
			map[string]any{"app": app, "u": ex.user.ID})
		if len(g.Errors) != 0 {
			t.Fatalf("removing: %+v", g.Errors)
		}

		for _, r := range reads {
			if status, body := ex.do("GET", base+r, nil); status != http.StatusNotFound {
				t.Errorf("removed, with the same session: GET %s = %d %s, want 404", base+r, status, body)
			}
		}
		g = ex.gql(q, map[string]any{"app": app})
		if g.code() != "not_found" || strings.Contains(mustJSON(t, g.Data), "Kept") {
			t.Errorf("removed, with the same session: the query answers %+v %+v, want not_found and no data", g.Data, g.Errors)
		}

		listed := ex.mustGQL(`{ viewer { teamInvitations { id applicationId } } }`, nil)
		if s := mustJSON(t, listed); strings.Contains(s, app) {
			t.Errorf("removed, the person is still offered the application's team: %s", s)
		}
		g = ex.gql(`mutation($t: String!) { acceptInvitation(input: {token: $t}) { role application { id } } }`, map[string]any{"t": second})
		if g.code() != "invitation_not_found" {
			t.Errorf("removed, the second link through GraphQL: %+v %+v, want invitation_not_found", g.Data, g.Errors)
		}
		if status, body := ex.do("GET", base, nil); status != http.StatusNotFound {
			t.Errorf("after the second link, the removed member reads the application again: GET %s = %d %s", base, status, body)
		}
	})
}

// TestTeamOperationsAnswerBadInputWithA4xx (review helper rev7c): odd values in every
// argument of the team mutations and routes, sent by the owner (who passes every role check,
// so the input itself is reached) and by a support member, get a 4xx answer with a code
// (GraphQL extensions.code, REST error), never an internal error.
func TestTeamOperationsAnswerBadInputWithA4xx(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Odd", false)
		low := e.person("low@example.com", "Low Role", true)
		e.join(owner, app, low, "support")
		long := strings.Repeat("a", 5000)
		odd := []string{"", " ", long, "inv_" + long, "usr_" + strings.Repeat("z", 24), "é\u202e", "ＡＢＣ", "../../x", "%00", "\\u0000x"}
		mutations := []struct{ name, query, arg string }{
			{"inviteMember email", `mutation($a: ID!, $v: String!) { inviteMember(input: {applicationId: $a, email: $v, role: SUPPORT}) { invitation { id } } }`, "v"},
			{"revokeInvitation", `mutation($a: ID!, $v: ID!) { revokeInvitation(input: {applicationId: $a, invitationId: $v}) { revokedInvitationId } }`, "v"},
			{"changeMemberRole", `mutation($a: ID!, $v: ID!) { changeMemberRole(input: {applicationId: $a, userId: $v, role: ADMIN}) { member { userId } } }`, "v"},
			{"removeMember", `mutation($a: ID!, $v: ID!) { removeMember(input: {applicationId: $a, userId: $v}) { removedUserId } }`, "v"},
			{"proposeOwnershipTransfer", `mutation($a: ID!, $v: ID!) { proposeOwnershipTransfer(input: {applicationId: $a, userId: $v}) { transfer { toUserId } } }`, "v"},
			{"acceptInvitation token", `mutation($v: String!) { acceptInvitation(input: {token: $v}) { role } }`, "v"},
			{"acceptInvitation id", `mutation($v: ID!) { acceptInvitation(input: {invitationId: $v}) { role } }`, "v"},
			{"application id", `query($v: ID!) { application(id: $v) { members { userId } ownershipTransfer { toUserId } } }`, "v"},
			{"leaveApplication", `mutation($v: ID!) { leaveApplication(input: {applicationId: $v}) { applicationId } }`, "v"},
			{"acceptOwnershipTransfer", `mutation($v: ID!) { acceptOwnershipTransfer(input: {applicationId: $v}) { application { id } } }`, "v"},
			{"cancelOwnershipTransfer", `mutation($v: ID!) { cancelOwnershipTransfer(input: {applicationId: $v}) { applicationId } }`, "v"},
		}
		for _, who := range []*person{owner, low} {
			for _, m := range mutations {
				for _, v := range odd {
					status, body := who.do("POST", "/graphql", map[string]any{"query": m.query, "variables": map[string]any{"a": app, m.arg: v}})
					var g gqlResult
					_ = json.Unmarshal(body, &g)
					if status >= 500 || len(g.Errors) == 0 && status != 200 || g.code() == "internal" || (len(g.Errors) > 0 && g.code() == "") {
						t.Errorf("%s: %s with %.40q = %d %.300s", who.user.Email, m.name, v, status, body)
					}
				}
			}
			base := "/api/developer/applications/" + app
			for _, v := range odd {
				p := url.PathEscape(v)
				for _, r := range []struct {
					method, path string
					body         any
				}{
					{"POST", base + "/members/invitations", map[string]any{"email": v, "role": "support"}},
					{"POST", base + "/members/invitations", map[string]any{"email": "x@example.com", "role": v}},
					{"DELETE", base + "/members/invitations/" + p, nil},
					{"PATCH", base + "/members/" + p, map[string]any{"role": "admin"}},
					{"PATCH", base + "/members/" + low.user.ID, map[string]any{"role": v}},
					{"DELETE", base + "/members/" + p, nil},
					{"POST", base + "/transfer", map[string]any{"userId": v}},
					{"POST", "/api/developer/invitations/accept", map[string]any{"token": v}},
					{"POST", "/api/developer/invitations/accept", map[string]any{"invitationId": v}},
					{"GET", "/api/developer/applications/" + p + "/members", nil},
				} {
					status, body := who.do(r.method, r.path, r.body)
					if status >= 500 || status >= 400 && !strings.Contains(string(body), `"error"`) {
						t.Errorf("%s: %s %.80s with %.40q = %d %.300s", who.user.Email, r.method, r.path, v, status, body)
					}
				}
			}
		}
	})
}
