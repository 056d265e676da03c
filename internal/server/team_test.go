package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"loginsign/internal/mail"
	"loginsign/internal/team"
)

// teamMail records the team invitations the portal sends (and passes them on to the real
// sender), so a test can open the link the invitee got.
type teamMail struct {
	mu   sync.Mutex
	msgs []mail.Message
	next mail.Sender
}

func (m *teamMail) Send(ctx context.Context, msg mail.Message) error {
	m.mu.Lock()
	m.msgs = append(m.msgs, msg)
	m.mu.Unlock()
	if m.next == nil {
		return nil
	}
	return m.next.Send(ctx, msg)
}

var invitationLinkRE = regexp.MustCompile(`https?://\S+/portal/invitation\?token=\S+`)

// token is the token of the last invitation mailed to to.
func (m *teamMail) token(t *testing.T, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if m.msgs[i].To != to {
			continue
		}
		link := invitationLinkRE.FindString(m.msgs[i].Text)
		u, err := url.Parse(link)
		if err != nil || u.Query().Get("token") == "" {
			t.Fatalf("no invitation link in %q", m.msgs[i].Text)
		}
		return u.Query().Get("token")
	}
	t.Fatalf("no invitation mailed to %s", to)
	return ""
}

func (e *portalEnv) teamMail() *teamMail {
	if m, ok := e.srv.portal.Mail.(*teamMail); ok {
		return m
	}
	m := &teamMail{next: e.srv.portal.Mail}
	e.srv.portal.Mail = m
	return m
}

// join invites member to app with role (as owner) and accepts the mailed link as member.
func (e *portalEnv) join(owner *person, app string, member *person, role string) {
	e.t.Helper()
	m := e.teamMail()
	owner.json("POST", "/api/developer/applications/"+app+"/members/invitations",
		map[string]any{"email": member.user.Email, "role": role}, http.StatusCreated)
	member.json("POST", "/api/developer/invitations/accept", map[string]any{"token": m.token(e.t, member.user.Email)}, http.StatusOK)
}

// restAction is the team action of each portal REST route (the README's role table).
var restAction = map[string]team.Action{
	"get application": team.ReadApp, "update application": team.EditSettings, "delete application": team.DeleteApp,
	"rotate client secret": team.RotateSecrets, "rotate webhook secret": team.RotateSecrets,
	"list users": team.ReadUsers, "update user": team.EditConnections, "delete user": team.EditConnections,
	"sync email": team.EditConnections, "email sync test": team.EditSettings, "current logins test": team.EditSettings,
	"import users": team.RunImports, "list import sources": team.ReadImports, "get import source": team.ReadImports,
	"rollback import": team.RunImports, "application activity": team.ReadActivity, "export users": team.ExportUsers,
	"list license variants": team.ReadLicenses, "create license variant": team.ManageLicenses,
	"edit license variant": team.ManageLicenses, "delete license variant": team.ManageLicenses,
	"force-delete license variant": team.ManageLicenses, "generate license codes": team.ManageLicenses,
	"upload license codes": team.ManageLicenses, "list license codes": team.ReadLicenses,
	"delete license code": team.ManageLicenses, "webhook events": team.ReadWebhooks, "test webhook": team.ManageWebhooks,
	"list members": team.ReadMembers, "list invitations": team.ManageMembers, "invite member": team.ManageMembers,
	"revoke invitation": team.ManageMembers, "change member role": team.ManageMembers, "remove member": team.ManageMembers,
	"propose transfer": team.TransferApp,
}

func teamRoutes() []restRoute {
	rs := append(portalRoutes(),
		restRoute{"list members", "GET", "/api/developer/applications/{app}/members", nil},
		restRoute{"list invitations", "GET", "/api/developer/applications/{app}/members/invitations", nil},
		restRoute{"invite member", "POST", "/api/developer/applications/{app}/members/invitations", map[string]any{"email": "new-colleague@example.com", "role": "support"}},
		restRoute{"revoke invitation", "DELETE", "/api/developer/applications/{app}/members/invitations/inv_aaaaaaaaaaaaaaaaaaaaaaaa", nil},
		restRoute{"change member role", "PATCH", "/api/developer/applications/{app}/members/usr_aaaaaaaaaaaaaaaaaaaaaaaa", map[string]any{"role": "support"}},
		restRoute{"remove member", "DELETE", "/api/developer/applications/{app}/members/usr_aaaaaaaaaaaaaaaaaaaaaaaa", nil},
		restRoute{"propose transfer", "POST", "/api/developer/applications/{app}/transfer", map[string]any{"userId": "usr_aaaaaaaaaaaaaaaaaaaaaaaa"}},
	)
	// The application's deletion goes last: what runs after it would find nothing.
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].name != "delete application" && rs[j].name == "delete application" })
	return rs
}

// gqlAction is the team action of each portal GraphQL operation; node(id:) lookups answer
// not_found (never forbidden) when the role may not read the node.
var gqlAction = map[string]team.Action{
	"application": team.ReadApp, "node application": team.ReadApp, "node connection": team.ReadUsers,
	"node import source": team.ReadImports, "application users": team.ReadUsers, "application activity": team.ReadActivity,
	"application analytics": team.ReadAnalytics, "redirect uri check": team.ReadApp,
	"updateApplication": team.EditSettings, "rotateClientSecret": team.RotateSecrets, "rotateWebhookSecret": team.RotateSecrets,
	"deleteApplication": team.DeleteApp, "updateAppConnection": team.EditConnections, "syncConnectionEmail": team.EditConnections,
	"deleteAppConnection": team.EditConnections, "importUsers": team.RunImports, "rollbackImport": team.RunImports,
	"testEmailSyncApi": team.EditSettings, "testCurrentLoginsSyncApi": team.EditSettings, "editApplication": team.EditSettings,
	"resetClientSecret": team.RotateSecrets, "resetWebhookSecret": team.RotateSecrets, "removeApplication": team.DeleteApp,
	"editAppConnection": team.EditConnections, "proposeConnectionEmail": team.EditConnections,
	"closeAppConnection": team.EditConnections, "importAppUsers": team.RunImports, "undoImport": team.RunImports,
	"checkEmailSyncApi": team.EditSettings, "checkCurrentLoginsSyncApi": team.EditSettings,
	"retryWebhookEvent": team.ManageWebhooks, "pingWebhook": team.ManageWebhooks, "addLicenseVariant": team.ManageLicenses,
	"editLicenseVariant": team.ManageLicenses, "removeLicenseVariant force": team.ManageLicenses,
	"createLicenseCodes": team.ManageLicenses, "importLicenseCodes": team.ManageLicenses, "removeLicenseCode": team.ManageLicenses,
	"application quickstart": team.ReadApp, "application webhookUrl": team.ReadWebhooks, "application backchannelLogoutUri": team.ReadWebhooks,
	"application members": team.ReadMembers, "application invitations": team.ManageMembers,
	"inviteMember": team.ManageMembers, "revokeInvitation": team.ManageMembers, "changeMemberRole": team.ManageMembers,
	"removeMember": team.ManageMembers, "proposeOwnershipTransfer": team.TransferApp,
}

func teamOperations() []gqlOperation {
	appOnly := func(app, _, _ string) map[string]any { return map[string]any{"app": app} }
	ops := append(portalOperations(),
		gqlOperation{"application webhookUrl", `query($app: ID!) { application(id: $app) { webhookUrl } }`, appOnly},
		gqlOperation{"application backchannelLogoutUri", `query($app: ID!) { application(id: $app) { backchannelLogoutUri } }`, appOnly},
		gqlOperation{"application members", `query($app: ID!) { application(id: $app) { members { userId role } } }`, appOnly},
		gqlOperation{"application invitations", `query($app: ID!) { application(id: $app) { invitations { id } } }`, appOnly},
		gqlOperation{"inviteMember", `mutation($app: ID!) { inviteMember(input: {applicationId: $app, email: "gql-colleague@example.com", role: SUPPORT}) { invitation { id } } }`, appOnly},
		gqlOperation{"revokeInvitation", `mutation($app: ID!) { revokeInvitation(input: {applicationId: $app, invitationId: "inv_aaaaaaaaaaaaaaaaaaaaaaaa"}) { revokedInvitationId } }`, appOnly},
		gqlOperation{"changeMemberRole", `mutation($app: ID!) { changeMemberRole(input: {applicationId: $app, userId: "usr_aaaaaaaaaaaaaaaaaaaaaaaa", role: SUPPORT}) { member { userId } } }`, appOnly},
		gqlOperation{"removeMember", `mutation($app: ID!) { removeMember(input: {applicationId: $app, userId: "usr_aaaaaaaaaaaaaaaaaaaaaaaa"}) { removedUserId } }`, appOnly},
		gqlOperation{"proposeOwnershipTransfer", `mutation($app: ID!) { proposeOwnershipTransfer(input: {applicationId: $app, userId: "usr_aaaaaaaaaaaaaaaaaaaaaaaa"}) { transfer { toUserId } } }`, appOnly},
	)
	last := func(name string) bool { return name == "deleteApplication" || name == "removeApplication" }
	sort.SliceStable(ops, func(i, j int) bool { return !last(ops[i].name) && last(ops[j].name) })
	return ops
}

// TestTeamRoles gives an application a member of each role and calls every developer REST
// route and GraphQL operation as each of them, as a signed-in developer off the team and as
// the developer of another application: each is allowed or refused exactly as the role table
// says. A member refused gets 403 forbidden (GraphQL FORBIDDEN code "forbidden"); anyone off
// the team gets the answer of a missing application; a refusal changes nothing.
func TestTeamRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		customer := e.person("customer@example.com", "Casey Customer", true)
		outsider := e.person("outsider@example.com", "Olga Outsider", true)
		other := e.tenant("Other", customer)
		missingREST := map[string][]byte{}
		for _, role := range []team.Role{team.Owner, team.Admin, team.Developer, team.Support, "", "other"} {
			name := string(role)
			if name == "" {
				name = "nonmember"
			}
			t.Run(name, func(t *testing.T) {
				tn := e.tenant("App"+name, customer)
				caller := tn.dev
				switch role {
				case team.Admin, team.Developer, team.Support:
					caller = e.person(name+"-member@example.com", "Member "+name, true)
					e.join(tn.dev, tn.app, caller, name)
				case "":
					caller = outsider
				case "other":
					caller = other.dev
				}
				allows := func(a team.Action) bool { return role != "" && role != "other" && team.Allows(role, a) }
				// Refusals first, then what is allowed (which changes things).
				before := e.snapshot()
				// ids is tn's ids, or for the allowed deletion of the application a fresh
				// application of the owner's, so the deletions do not take tn away.
				ids := func(a team.Action) [5]string {
					if a != team.DeleteApp || !allows(a) {
						return tn.ids()
					}
					fresh := tn.ids()
					fresh[0] = tn.dev.createApp("Doomed", false)
					return fresh
				}
				for pass := 0; pass < 2; pass++ {
					restPass := func() {
						for _, rt := range teamRoutes() {
							a, ok := restAction[rt.name]
							if !ok {
								t.Fatalf("route %q has no action in the role table", rt.name)
							}
							if allows(a) != (pass == 1) {
								continue
							}
							id := ids(a)
							status, body := caller.do(rt.method, fill(rt.path, id), fillBody(rt.body, id))
							missing, seen := missingREST[rt.name]
							if !seen {
								_, missing = outsider.do(rt.method, fill(rt.path, missingIDs), fillBody(rt.body, missingIDs))
								missingREST[rt.name] = missing
							}
							switch {
							case allows(a):
								if status == http.StatusForbidden || status == http.StatusUnauthorized || bytes.Equal(body, missing) {
									t.Errorf("REST %s as %s: %d %s, want allowed", rt.name, name, status, body)
								}
							case role == "" || role == "other":
								if status != http.StatusNotFound || !bytes.Equal(body, missing) {
									t.Errorf("REST %s as %s: %d %s, want the missing application's 404 %s", rt.name, name, status, body, missing)
								}
							default:
								var eb struct{ Error string }
								json.Unmarshal(body, &eb)
								if status != http.StatusForbidden || eb.Error != "forbidden" {
									t.Errorf("REST %s as %s: %d %s, want 403 forbidden", rt.name, name, status, body)
								}
							}
						}
					}
					for _, op := range teamOperations() {
						a, ok := gqlAction[op.name]
						if !ok {
							t.Fatalf("operation %q has no action in the role table", op.name)
						}
						if allows(a) != (pass == 1) {
							continue
						}
						id := ids(a)
						got := caller.gql(op.query, op.vars(id[0], id[1], id[2]))
						node := strings.HasPrefix(op.name, "node ")
						switch {
						case allows(a):
							if c := got.code(); c == "forbidden" || c == "unauthorized" || (c == "not_found" && strings.Contains(got.Errors[0].Message, "application not found")) ||
								(node && c != "") {
								t.Errorf("GraphQL %s as %s: %+v, want allowed", op.name, name, got)
							}
						case role == "" || role == "other" || node:
							want := outsider.gql(op.query, op.vars(missingApp, missingConn, missingSource))
							gj, _ := json.Marshal(got)
							wj, _ := json.Marshal(want)
							if got.code() != "not_found" || !bytes.Equal(gj, wj) {
								t.Errorf("GraphQL %s as %s: %s, want the missing application's %s", op.name, name, gj, wj)
							}
						default:
							if got.code() != "forbidden" {
								t.Errorf("GraphQL %s as %s: %+v, want forbidden", op.name, name, got)
							}
						}
					}
					restPass()
					if pass == 0 {
						e.sameSnapshot(before, "refused requests as "+name)
					}
				}
			})
		}
	})
}

// TestTeamInvitationBoundToAddress: another signed-in account holding the link is refused and
// the invitation stays usable; the invited person accepts it once; the link is spent.
func TestTeamInvitationBoundToAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Bound", false)
		invitee := e.person("invitee@example.com", "Ivy Invitee", true)
		thief := e.person("thief@example.com", "Theo Thief", true)
		m := e.teamMail()
		owner.json("POST", "/api/developer/applications/"+app+"/members/invitations",
			map[string]any{"email": "invitee@example.com", "role": "developer"}, http.StatusCreated)
		token := m.token(t, "invitee@example.com")

		status, body := thief.do("POST", "/api/developer/invitations/accept", map[string]any{"token": token})
		if status != http.StatusForbidden || !strings.Contains(string(body), "invitation_other_address") {
			t.Fatalf("another account accepting: %d %s, want 403 invitation_other_address", status, body)
		}
		if g := thief.gql(`mutation($t: String) { acceptInvitation(input: {token: $t}) { role } }`, map[string]any{"t": token}); g.code() != "invitation_other_address" {
			t.Fatalf("another account accepting over GraphQL: %+v", g)
		}
		if s, _ := thief.do("GET", "/api/developer/applications/"+app+"/members", nil); s != http.StatusNotFound {
			t.Fatalf("the refused account reads the team: %d", s)
		}
		v := invitee.json("POST", "/api/developer/invitations/accept", map[string]any{"token": token}, http.StatusOK)
		if v["role"] != "developer" || v["applicationId"] != app {
			t.Fatalf("accept: %v", v)
		}
		if s, b := invitee.do("POST", "/api/developer/invitations/accept", map[string]any{"token": token}); s != http.StatusNotFound {
			t.Fatalf("second use: %d %s, want 404", s, b)
		}
		members := owner.json("GET", "/api/developer/applications/"+app+"/members", nil, http.StatusOK)["members"].([]any)
		if len(members) != 2 || members[1].(map[string]any)["role"] != "developer" || members[1].(map[string]any)["email"] != "invitee@example.com" {
			t.Fatalf("members: %v", members)
		}
		// The developer sees the application in their list, with their role.
		apps := invitee.json("GET", "/api/developer/applications", nil, http.StatusOK)["applications"].([]any)
		if len(apps) != 1 || apps[0].(map[string]any)["role"] != "developer" {
			t.Fatalf("the member's applications: %v", apps)
		}
		g := invitee.mustGQL(`query($app: ID!) { application(id: $app) { viewerRole members { role isViewer } } }`, map[string]any{"app": app})
		if g["application"].(map[string]any)["viewerRole"] != "DEVELOPER" {
			t.Fatalf("viewerRole: %v", g)
		}
	})
}

// TestTeamInviteRevealsNothing: inviting an address with an account and one without answers
// alike and mails alike.
func TestTeamInviteRevealsNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		e.person("has-account@example.com", "Has Account", false)
		app := owner.createApp("Oracle", false)
		m := e.teamMail()
		shape := func(email string) (int, string, string) {
			status, body := owner.do("POST", "/api/developer/applications/"+app+"/members/invitations", map[string]any{"email": email, "role": "support"})
			var v map[string]map[string]any
			json.Unmarshal(body, &v)
			inv := v["invitation"]
			for _, k := range []string{"id", "email", "createdAt", "expiresAt"} {
				delete(inv, k)
			}
			j, _ := json.Marshal(inv)
			m.mu.Lock()
			text := m.msgs[len(m.msgs)-1].Text
			m.mu.Unlock()
			text = strings.ReplaceAll(invitationLinkRE.ReplaceAllString(text, "LINK"), email, "ADDRESS")
			return status, string(j), text
		}
		s1, b1, m1 := shape("has-account@example.com")
		s2, b2, m2 := shape("no-account@example.com")
		if s1 != http.StatusCreated || s1 != s2 || b1 != b2 || m1 != m2 {
			t.Fatalf("answers differ: %d %s / %d %s; mails equal: %v", s1, b1, s2, b2, m1 == m2)
		}
		// An admin cannot invite an owner; nobody can.
		if s, b := owner.do("POST", "/api/developer/applications/"+app+"/members/invitations", map[string]any{"email": "x@example.com", "role": "owner"}); s != http.StatusBadRequest {
			t.Fatalf("inviting an owner: %d %s", s, b)
		}
	})
}

// TestTeamInvitationSingleUseConcurrent: the invitee accepting the same link many times at
// once joins once; every other attempt fails.
func TestTeamInvitationSingleUseConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Race", false)
		invitee := e.person("invitee@example.com", "Ivy Invitee", true)
		m := e.teamMail()
		owner.json("POST", "/api/developer/applications/"+app+"/members/invitations",
			map[string]any{"email": "invitee@example.com", "role": "admin"}, http.StatusCreated)
		token := m.token(t, "invitee@example.com")
		const n = 8
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, _ := invitee.do("POST", "/api/developer/invitations/accept", map[string]any{"token": token})
				codes <- s
			}()
		}
		wg.Wait()
		close(codes)
		ok := 0
		for c := range codes {
			if c == http.StatusOK {
				ok++
			} else if c >= 500 {
				t.Errorf("a concurrent accept answered %d", c)
			}
		}
		if ok != 1 {
			t.Fatalf("%d accepts succeeded, want exactly 1", ok)
		}
		members := owner.json("GET", "/api/developer/applications/"+app+"/members", nil, http.StatusOK)["members"].([]any)
		if len(members) != 2 {
			t.Fatalf("members: %v", members)
		}
	})
}

// TestTeamOwnershipTransfer: the owner proposes, nothing changes until the member accepts;
// then the member owns it and the old owner is an admin. Cancel works; the owner cannot
// leave; a member can.
func TestTeamOwnershipTransfer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Handover", false)
		heir := e.person("heir@example.com", "Hana Heir", true)
		helper := e.person("helper@example.com", "Hugo Helper", true)
		e.join(owner, app, heir, "admin")
		e.join(owner, app, helper, "developer")
		base := "/api/developer/applications/" + app
		if s, b := owner.do("POST", base+"/members/leave", nil); s != http.StatusConflict || !strings.Contains(string(b), "owner_cannot_leave") {
			t.Fatalf("owner leaving: %d %s", s, b)
		}
		// An admin may not transfer.
		if s, _ := heir.do("POST", base+"/transfer", map[string]any{"userId": helper.user.ID}); s != http.StatusForbidden {
			t.Fatalf("admin proposing a transfer: %d", s)
		}
		owner.json("POST", base+"/transfer", map[string]any{"userId": heir.user.ID}, http.StatusOK)
		// Only the proposed member can accept; nothing changed yet.
		if s, _ := helper.do("POST", base+"/transfer/accept", nil); s != http.StatusNotFound {
			t.Fatalf("another member accepting: %d", s)
		}
		if s, _ := heir.do("DELETE", base, nil); s != http.StatusForbidden {
			t.Fatalf("proposed heir deleting before accepting: %d", s)
		}
		// Cancel, then propose again.
		owner.json("DELETE", base+"/transfer", nil, http.StatusOK)
		if s, _ := heir.do("POST", base+"/transfer/accept", nil); s != http.StatusNotFound {
			t.Fatalf("accepting a cancelled transfer: %d", s)
		}
		owner.json("POST", base+"/transfer", map[string]any{"userId": heir.user.ID}, http.StatusOK)
		v := heir.json("POST", base+"/transfer/accept", nil, http.StatusOK)
		if v["role"] != "owner" {
			t.Fatalf("accept: %v", v)
		}
		roles := map[string]string{}
		for _, m := range heir.json("GET", base+"/members", nil, http.StatusOK)["members"].([]any) {
			mm := m.(map[string]any)
			roles[mm["userId"].(string)] = mm["role"].(string)
		}
		if roles[heir.user.ID] != "owner" || roles[owner.user.ID] != "admin" || roles[helper.user.ID] != "developer" || len(roles) != 3 {
			t.Fatalf("roles after the transfer: %v", roles)
		}
		if s, _ := owner.do("DELETE", base, nil); s != http.StatusForbidden {
			t.Fatalf("old owner deleting: %d", s)
		}
		owner.json("POST", base+"/members/leave", nil, http.StatusOK)
		if s, _ := owner.do("GET", base, nil); s != http.StatusNotFound {
			t.Fatalf("after leaving: %d", s)
		}
		// The team's activity tells the story, without addresses.
		act := heir.json("GET", base+"/activity?limit=100", nil, http.StatusOK)
		j, _ := json.Marshal(act)
		for _, typ := range []string{"member_invited", "member_joined", "ownership_transfer_proposed", "ownership_transfer_cancelled", "ownership_transferred", "member_left"} {
			if !strings.Contains(string(j), typ) {
				t.Errorf("activity lacks %s: %s", typ, j)
			}
		}
		if strings.Contains(string(j), "@example.com") {
			t.Errorf("an address in the team's activity: %s", j)
		}
	})
}

// TestTeamDeleteAndClose: a member closing their account leaves every team; the owner deletes
// an application that has members and pending invitations; the owner cannot close their
// account while they own it.
func TestTeamDeleteAndClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Ending", false)
		leaver := e.person("leaver@example.com", "Lee Leaver", true)
		stayer := e.person("stayer@example.com", "Stay Stayer", true)
		e.join(owner, app, leaver, "admin")
		e.join(owner, app, stayer, "support")
		owner.json("POST", "/api/developer/applications/"+app+"/members/invitations",
			map[string]any{"email": "pending@example.com", "role": "developer"}, http.StatusCreated)
		owner.json("POST", "/api/developer/applications/"+app+"/transfer", map[string]any{"userId": leaver.user.ID}, http.StatusOK)

		leaver.mustGQL(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`, map[string]any{"g": leaver.user.GlobalID, "c": leaver.changeCode()})
		v := owner.json("GET", "/api/developer/applications/"+app+"/members", nil, http.StatusOK)
		if len(v["members"].([]any)) != 2 || v["ownershipTransfer"] != nil {
			t.Fatalf("after the admin closed their account: %v", v)
		}
		if g := owner.gql(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`, map[string]any{"g": owner.user.GlobalID, "c": owner.changeCode()}); g.code() != "owns_applications" {
			t.Fatalf("the owner closing their account: %+v", g)
		}
		if s, _ := stayer.do("DELETE", "/api/developer/applications/"+app, nil); s != http.StatusForbidden {
			t.Fatalf("support deleting: %d", s)
		}
		owner.json("DELETE", "/api/developer/applications/"+app, nil, http.StatusOK)
		if s, _ := stayer.do("GET", "/api/developer/applications/"+app+"/members", nil); s != http.StatusNotFound {
			t.Fatalf("members of a deleted application: %d", s)
		}
		if n := stayer.json("GET", "/api/developer/applications", nil, http.StatusOK)["applications"].([]any); len(n) != 0 {
			t.Fatalf("the deleted application is still listed: %v", n)
		}
	})
}
