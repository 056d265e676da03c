package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"loginsign/ent"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
)

// TestTheRESTUsersListWithoutALimitAnswersOnePageAndItsNextCursor (fix7c): GET …/users with
// no limit answers the first portal.MaxUserPage people in the documented body ({"users",
// "total"}, total the whole list) and the next page's cursor in X-Next-Cursor; that cursor,
// again with no limit, answers the rest and no further cursor.
func TestTheRESTUsersListWithoutALimitAnswersOnePageAndItsNextCursor(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.person("paged-dev@example.com", "Dev", true)
		app := dev.createApp("Paged", false)
		n := portal.MaxUserPage + 1
		people := make([]*ent.User, n)
		for i := range people {
			u, err := e.srv.identity.CreateUser(ctx, fmt.Sprintf("paged-%d@example.com", i), "")
			if err != nil {
				t.Fatal(err)
			}
			people[i] = u
		}
		if err := e.srv.db.Tx(ctx, func(tx *ent.Tx) error {
			for _, u := range people {
				if _, err := connections.Create(ctx, tx, u.ID, app, e.srv.cfg.RelayDomain, e.srv.now()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		get := func(query string) (users []string, total int, next string) {
			t.Helper()
			r, _ := http.NewRequest("GET", e.url+"/api/developer/applications/"+app+"/users"+query, nil)
			r.AddCookie(&http.Cookie{Name: "ls_session", Value: dev.cookie})
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET users%s = %d", query, resp.StatusCode)
			}
			var v struct {
				Users []struct{ ID string }
				Total int
			}
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Fatal(err)
			}
			for _, u := range v.Users {
				users = append(users, u.ID)
			}
			return users, v.Total, resp.Header.Get("X-Next-Cursor")
		}
		first, total, next := get("")
		if len(first) != portal.MaxUserPage || total != n || next == "" {
			t.Fatalf("without a limit: %d users, total %d, X-Next-Cursor %q; want %d, %d and a cursor",
				len(first), total, next, portal.MaxUserPage, n)
		}
		rest, total, after := get("?" + url.Values{"cursor": {next}}.Encode())
		if len(rest) != n-portal.MaxUserPage || total != n || after != "" {
			t.Errorf("the next cursor without a limit: %d users, total %d, X-Next-Cursor %q; want %d, %d and none",
				len(rest), total, after, n-portal.MaxUserPage, n)
		}
	})
}
