package portal_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
)

// TestTheWholeUsersListNeedsWhatTheExportNeeds (review helper rev7c): the users export hands
// over the shown address and Global User ID of every person at once, so ExportUsers asks for
// the export role (admin), a sign-in of the last minutes, a budget of 10 an hour, and records
// itself in the activity log. The users list without a page size (REST GET …/users with no
// limit, GraphQL users with no first; "nil: every user") hands over the same columns of every
// person in one request, and asks only for ReadUsers: a support member, or a session cookie of
// any member taken from their browser an hour ago, carries the whole list away with none of
// those checks. The rule lives in one transport-shaped function (the export), not in the
// list. Here: an application with MaxUserPage+1 people; a support member signed in an hour
// ago is refused the export, and must not get more than one page (MaxUserPage) from the list.
func TestTheWholeUsersListNeedsWhatTheExportNeeds(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		owner := e.developer(t)
		app := e.app(t, owner)
		n := portal.MaxUserPage + 1
		people := make([]*ent.User, n)
		for i := range people {
			people[i] = e.person(t)
		}
		now := time.Now()
		if err := e.db.Tx(ctx, func(tx *ent.Tx) error {
			for _, u := range people {
				if _, err := connections.Create(ctx, tx, u.ID, app.ID, "relay.test.example", now,
					func(c *ent.AppConnectionCreate) { c.SetAppEmail(u.Email) }); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		support := staleSession(e.member(t, app, appmember.RoleSupport))

		_, err := e.svc.ExportUsers(support, app.ID, portal.UsersPage{})
		if !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("support exporting users: %v, want forbidden", err)
		}
		list, err := e.svc.ListUsers(support, app.ID, portal.UsersPage{})
		switch {
		case err != nil:
			// Refusing the whole list (forbidden, reauthentication_required) is an answer too.
			t.Logf("support listing every user: %v", err)
		case len(list.Edges) > portal.MaxUserPage:
			t.Errorf("support signed in an hour ago received %d people (address and Global User ID) in one request, "+
				"the export it is refused; want at most one page of %d", len(list.Edges), portal.MaxUserPage)
		}
	})
}
