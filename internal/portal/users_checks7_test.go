package portal_test

import (
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestTheWholeUsersListNeedsWhatTheExportNeeds (review helper rev7c): the users export hands
// over the shown address and Global User ID of every person at once, so ExportUsers asks for
// the export role (admin), a sign-in of the last minutes, a budget of 10 an hour, and records
// itself in the activity log. The users list asks only for ReadUsers, so without a page size
// (REST GET …/users with no limit, GraphQL users with no first) it answers one page: before,
// it answered every person, and a support member, or a session cookie of any member taken from
// their browser an hour ago, carried the whole list away with none of those checks. Here: an
// application with MaxUserPage+1 people; a support member signed in an hour ago is refused the
// export, and gets one page (MaxUserPage) from the list.
func TestTheWholeUsersListNeedsWhatTheExportNeeds(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		owner := e.developer(t)
		app := e.app(t, owner)
		e.connectPeople(t, app, portal.MaxUserPage+1)
		support := staleSession(e.member(t, app, appmember.RoleSupport))

		_, err := e.svc.ExportUsers(support, app.ID, portal.UsersPage{})
		if !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("support exporting users: %v, want forbidden", err)
		}
		list, err := e.svc.ListUsers(support, app.ID, portal.UsersPage{})
		switch {
		case err != nil:
			t.Errorf("support listing the users without a page size: %v, want one page", err)
		case len(list.Edges) > portal.MaxUserPage:
			t.Errorf("support signed in an hour ago received %d people (address and Global User ID) in one request, "+
				"the export it is refused; want at most one page of %d", len(list.Edges), portal.MaxUserPage)
		}
	})
}
