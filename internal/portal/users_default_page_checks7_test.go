package portal_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
	"loginsign/internal/store"
)

// TestAUsersListWithoutAPageSizeAnswersOnePageAndTheWayOn (fix7c): a users list asked for
// without first, last or limit answers the first MaxUserPage people, says there are more and
// gives the cursor of the next page; that cursor, again without a page size, answers the rest.
// totalCount stays the whole list. Only ExportUsers reads past one page in one request.
func TestAUsersListWithoutAPageSizeAnswersOnePageAndTheWayOn(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		owner := e.developer(t)
		app := e.app(t, owner)
		n := portal.MaxUserPage + 1
		e.connectPeople(t, app, n)
		support := e.member(t, app, appmember.RoleSupport)

		first, err := e.svc.ListUsers(support, app.ID, portal.UsersPage{})
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Edges) != portal.MaxUserPage || first.TotalCount != n || !first.PageInfo.HasNextPage || first.PageInfo.EndCursor == nil {
			t.Fatalf("a list without a page size: %d people, total %d, hasNextPage %v, end cursor %v; want %d, %d, true and a cursor",
				len(first.Edges), first.TotalCount, first.PageInfo.HasNextPage, first.PageInfo.EndCursor != nil, portal.MaxUserPage, n)
		}
		rest, err := e.svc.ListUsers(support, app.ID, portal.UsersPage{After: store.CursorText(first.PageInfo.EndCursor)})
		if err != nil {
			t.Fatal(err)
		}
		if len(rest.Edges) != n-portal.MaxUserPage || rest.TotalCount != n || rest.PageInfo.HasNextPage {
			t.Errorf("the next page without a page size: %d people, total %d, hasNextPage %v; want %d, %d, false",
				len(rest.Edges), rest.TotalCount, rest.PageInfo.HasNextPage, n-portal.MaxUserPage, n)
		}
		seen := map[string]bool{}
		for _, page := range []*ent.AppConnectionConnection{first, rest} {
			for _, edge := range page.Edges {
				if seen[edge.Node.ID] {
					t.Errorf("connection %s is on both pages", edge.Node.ID)
				}
				seen[edge.Node.ID] = true
			}
		}

		gql, err := e.svc.ConnectedUsers(support, app.ID, portal.UserPage{})
		if err != nil {
			t.Fatal(err)
		}
		if len(gql.Edges) != portal.MaxUserPage || !gql.PageInfo.HasNextPage {
			t.Errorf("ConnectedUsers without first or last: %d people, hasNextPage %v; want %d and true",
				len(gql.Edges), gql.PageInfo.HasNextPage, portal.MaxUserPage)
		}

		exported, err := e.svc.ExportUsers(owner, app.ID, portal.UsersPage{})
		if err != nil {
			t.Fatal(err)
		}
		if len(exported) != n {
			t.Errorf("the export holds %d people, want all %d", len(exported), n)
		}
	})
}

// connectPeople connects n new people to app, sharing their primary address with it, in one
// transaction.
func (e *portalEnv) connectPeople(t *testing.T, app *ent.Application, n int) {
	t.Helper()
	people := make([]*ent.User, n)
	for i := range people {
		people[i] = e.person(t)
	}
	now := time.Now().UTC()
	if err := e.db.Tx(context.Background(), func(tx *ent.Tx) error {
		for _, u := range people {
			if _, err := connections.Create(context.Background(), tx, u.ID, app.ID, "relay.test.example", now,
				func(c *ent.AppConnectionCreate) { c.SetAppEmail(u.Email) }); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
