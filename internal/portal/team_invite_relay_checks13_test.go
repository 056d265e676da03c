package portal_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent/appinvitation"
	"loginsign/internal/apperr"
	"loginsign/internal/portal"
	"loginsign/internal/team"
)

// TestATeamInvitationToARelayAddressIsRefused (review helper gqlteamrev, checks13): a
// developer reads the relay alias of every person connected to their application (the users
// list). Invited to the team of any application of theirs, the alias received a LoginSign mail
// naming that application, which the relay forwards to the person behind it, who never gave
// the developer an address; no account holds an alias, so the invitation could never be
// accepted and only held a seat of the team. As for a person's own addresses
// (identity.NotRelayAddress), an address on the relay domain is refused, in any case, with
// 400 relay_address, before anything is stored; the portal's team gets the relay domain.
func TestATeamInvitationToARelayAddressIsRefused(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		owner := e.developer(t)
		created, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://shop.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		person := e.person(t)
		conn := e.connect(t, person, app, "")
		if !strings.HasSuffix(conn.AliasEmail, "@relay.test.example") {
			t.Fatalf("alias %q is not on the relay domain", conn.AliasEmail)
		}
		for _, addr := range []string{conn.AliasEmail, strings.ToUpper(conn.AliasEmail), "r-sometoken@relay.test.example"} {
			inv, err := e.svc.Team().Invite(owner, app.ID, addr, team.Support)
			if err == nil {
				t.Errorf("inviting the relay address %s: invitation %s stored, want 400 relay_address", addr, inv.ID)
				continue
			}
			if ae := apperr.As(err); ae == nil || ae.Code != apperr.Invalid || ae.Reason != "relay_address" {
				t.Errorf("inviting the relay address %s: %v, want invalid_request relay_address", addr, err)
			}
		}
		if n := e.db.AppInvitation.Query().Where(appinvitation.ApplicationID(app.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d invitations stored, want none", n)
		}
		// Another domain's address is invited as before.
		if _, err := e.svc.Team().Invite(owner, app.ID, "colleague@shop.example", team.Support); err != nil {
			t.Fatalf("inviting an ordinary address: %v", err)
		}
	})
}
