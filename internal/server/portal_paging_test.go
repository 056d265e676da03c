package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// TestDeveloperListsArePaged: REST's lists of a developer's applications and of an
// application's import runs are read a page at a time (?limit=1–100, default 100, and
// ?cursor= the previous page's nextCursor), newest first, as GraphQL reads them: an
// application's import runs grow with every run, and a developer may be on the team of any
// number of applications.
func TestDeveloperListsArePaged(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev, owner := e.person("pager@example.com", "Pager", true), e.person("owner@example.com", "Owner", true)
		// pages reads path page by page with limit (none: the default page) and returns the
		// ids of what each page listed under key.
		pages := func(path, key, limit string) [][]string {
			t.Helper()
			var out [][]string
			cursor := ""
			for range 10 {
				q := url.Values{}
				if limit != "" {
					q.Set("limit", limit)
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				v := dev.json("GET", path+"?"+q.Encode(), nil, 200)
				var got []string
				for _, item := range v[key].([]any) {
					got = append(got, item.(map[string]any)["id"].(string))
				}
				out = append(out, got)
				next, _ := v["nextCursor"].(string)
				if next == "" {
					return out
				}
				cursor = next
			}
			t.Fatalf("%s: more than ten pages", path)
			return nil
		}

		// 100 applications of another developer whose team the developer is on, then one of
		// the developer's own: 101, the newest first.
		created := time.Now().Add(-time.Hour)
		apps := make([]*ent.ApplicationCreate, 100)
		for i := range apps {
			apps[i] = e.srv.db.Application.Create().SetOwnerID(owner.user.ID).SetName(fmt.Sprintf("Team %d", i)).
				SetSecretHash(ids.Hash(ids.Secret("t"))).SetCreatedAt(created.Add(time.Duration(i) * time.Second))
		}
		teamApps := e.srv.db.Application.CreateBulk(apps...).SaveX(ctx)
		members := make([]*ent.AppMemberCreate, len(teamApps))
		for i, a := range teamApps {
			members[i] = e.srv.db.AppMember.Create().SetApplicationID(a.ID).SetUserID(dev.user.ID).SetRole(appmember.RoleSupport)
		}
		e.srv.db.AppMember.CreateBulk(members...).ExecX(ctx)
		own := dev.createApp("Own", false)

		got := pages("/api/developer/applications", "applications", "")
		if len(got) != 2 || len(got[0]) != 100 || len(got[1]) != 1 {
			t.Fatalf("default pages of 101 applications: %d pages %v, want 100 then 1", len(got), lens(got))
		}
		if got[0][0] != own || got[0][1] != teamApps[99].ID || got[1][0] != teamApps[0].ID {
			t.Errorf("not newest first: %s %s … %s", got[0][0], got[0][1], got[1][0])
		}
		if seen := distinct(got); seen != 101 {
			t.Errorf("the pages listed %d distinct applications, want 101", seen)
		}
		if got := pages("/api/developer/applications", "applications", "40"); fmt.Sprint(lens(got)) != "[40 40 21]" {
			t.Errorf("pages of 40: %v", lens(got))
		}

		for i := range 3 {
			e.srv.db.ImportSource.Create().SetApplicationID(own).SetName(fmt.Sprintf("Run %d", i)).
				SetCreatedAt(created.Add(time.Duration(i) * time.Minute)).ExecX(ctx)
		}
		runs := pages("/api/developer/applications/"+own+"/import-sources", "sources", "2")
		if fmt.Sprint(lens(runs)) != "[2 1]" || distinct(runs) != 3 {
			t.Errorf("import runs in pages of 2: %v", runs)
		}

	})
}

func lens(pages [][]string) []int {
	n := make([]int, len(pages))
	for i, p := range pages {
		n[i] = len(p)
	}
	return n
}

func distinct(pages [][]string) int {
	seen := map[string]bool{}
	for _, p := range pages {
		for _, id := range p {
			seen[id] = true
		}
	}
	return len(seen)
}

// TestCursorsNoListGaveOutAreRefused: a cursor is opaque text, so a caller can send any value
// in it. Every paged list, in GraphQL (the nested connections ent loads with their parent
// included) and in REST, takes the cursors it gave out and answers any other with
// invalid_request: a map, a list of the wrong length, a text for a timestamp or a number for
// an id reached the database before, which failed on it (500).
func TestCursorsNoListGaveOutAreRefused(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		p := e.population("Cursors", 3)
		for i := range 2 {
			src := e.srv.db.ImportSource.Create().SetApplicationID(p.app).SetName(fmt.Sprintf("Run %d", i)).SaveX(ctx)
			for r := range 2 {
				e.srv.db.ImportRow.Create().SetSourceID(src.ID).SetRow(r + 1).SetStatus("invalid_row").ExecX(ctx)
			}
			ev := e.srv.db.WebhookEvent.Create().SetApplicationID(p.app).SetType("ping").SetPayload("{}").SaveX(ctx)
			for a := range 2 {
				e.srv.db.WebhookAttempt.Create().SetEventID(ev.ID).SetAttempt(a + 1).ExecX(ctx)
			}
		}
		v := p.dev.json("POST", "/api/developer/applications/"+p.app+"/licenses/variants", map[string]any{"name": "Pro"}, 201)
		p.dev.json("POST", "/api/developer/applications/"+p.app+"/licenses/codes/generate", map[string]any{"variantId": v["id"], "count": 2}, 201)

		cursor := func(c entgql.Cursor[string]) string { return store.CursorText(&c) }
		forged := map[string]string{
			"a map":             "gqFpoXihdpGBoWGhYg",
			"a text":            cursor(entgql.Cursor[string]{ID: "x", Value: "b"}),
			"a number":          cursor(entgql.Cursor[string]{ID: "x", Value: 5}),
			"a time":            cursor(entgql.Cursor[string]{ID: "x", Value: time.Now()}),
			"a list of three":   cursor(entgql.Cursor[string]{ID: "x", Value: []any{"a", "b", "c"}}),
			"a list of a time":  cursor(entgql.Cursor[string]{ID: "x", Value: []any{time.Now()}}),
			"a list of a text":  cursor(entgql.Cursor[string]{ID: "x", Value: []any{"b"}}),
			"a list of numbers": cursor(entgql.Cursor[string]{ID: "x", Value: []any{1, 2}}),
		}
		// Each query reads one list's edges' cursors ($c: the cursor to start after).
		lists := map[string]string{
			"applications":               `query($c: Cursor) { applications(first: 1, after: $c) { edges { cursor } } }`,
			"applications by name":       `query($c: Cursor) { applications(first: 1, after: $c, orderBy: [{field: NAME}]) { edges { cursor } } }`,
			"users":                      `query($c: Cursor, $a: ID!) { application(id: $a) { users(first: 1, after: $c) { edges { cursor } } } }`,
			"users by logins":            `query($c: Cursor, $a: ID!) { application(id: $a) { users(first: 1, after: $c, orderBy: [{field: LOGIN_COUNT}]) { edges { cursor } } } }`,
			"users by last session":      `query($c: Cursor, $a: ID!) { application(id: $a) { users(first: 1, after: $c, orderBy: [{field: LAST_SESSION_AT}]) { edges { cursor } } } }`,
			"import runs":                `query($c: Cursor, $a: ID!) { application(id: $a) { importSources(first: 1, after: $c) { edges { cursor } } } }`,
			"an import run's rows":       `query($c: Cursor, $a: ID!) { application(id: $a) { importSources(first: 1) { edges { node { rows(first: 1, after: $c) { edges { cursor } } } } } } }`,
			"webhook events":             `query($c: Cursor, $a: ID!) { application(id: $a) { webhookEvents(first: 1, after: $c) { edges { cursor } } } }`,
			"an event's deliveries":      `query($c: Cursor, $a: ID!) { application(id: $a) { webhookEvents(first: 1) { edges { node { deliveries(first: 1, after: $c) { edges { cursor } } } } } } }`,
			"license codes":              `query($c: Cursor, $a: ID!) { application(id: $a) { licenseCodes(first: 1, after: $c) { edges { cursor } } } }`,
			"a user's licenses":          `query($c: Cursor, $a: ID!) { application(id: $a) { users(first: 1) { edges { node { licenses(first: 1, after: $c) { edges { cursor } } } } } } }`,
			"a user's licenses by code":  `query($c: Cursor, $a: ID!) { application(id: $a) { users(first: 1) { edges { node { licenses(first: 1, after: $c, orderBy: {field: CODE}) { edges { cursor } } } } } } }`,
			"a user's licenses by times": `query($c: Cursor, $a: ID!) { application(id: $a) { users(first: 1) { edges { node { licenses(first: 1, after: $c, orderBy: {field: CREATED_AT}) { edges { cursor } } } } } } }`,
		}
		for name, q := range lists {
			t.Run("GraphQL "+name, func(t *testing.T) {
				vars := map[string]any{"a": p.app}
				first := p.dev.gql(q, vars)
				if len(first.Errors) > 0 {
					t.Fatalf("first page: %+v", first.Errors)
				}
				if c := firstCursor(first.Data); c != "" { // the list gives out cursors: the next page takes them
					vars["c"] = c
					if next := p.dev.gql(q, vars); len(next.Errors) > 0 {
						t.Errorf("the next page, after the list's own cursor: %+v", next.Errors)
					}
				} else if !strings.Contains(name, "licenses") { // a person's licenses: none here
					t.Errorf("first page gave out no cursor: %v", first.Data)
				}
				for what, c := range forged {
					vars["c"] = c
					if g := p.dev.gql(q, vars); len(g.Errors) > 0 && g.code() != "invalid_request" {
						t.Errorf("after %s: %+v, want data or invalid_request", what, g.Errors)
					}
				}
			})
		}
		app := "/api/developer/applications/" + p.app
		for _, path := range []string{"/api/developer/applications?limit=1", app + "/import-sources?limit=1", app + "/webhook/events?limit=1",
			app + "/licenses/codes?limit=1", app + "/users?limit=1"} {
			t.Run("REST "+path, func(t *testing.T) {
				status, body := p.dev.do("GET", path, nil)
				var page map[string]any
				if status != 200 || json.Unmarshal(body, &page) != nil {
					t.Fatalf("first page: %d %s", status, body)
				}
				if next, _ := page["nextCursor"].(string); next != "" {
					if status, body := p.dev.do("GET", path+"&cursor="+url.QueryEscape(next), nil); status != 200 {
						t.Errorf("the next page, after the list's own cursor: %d %s", status, body)
					}
				}
				for what, c := range forged {
					if status, body := p.dev.do("GET", path+"&cursor="+url.QueryEscape(c), nil); status != 200 && (status != 400 || !jsonErrorIs(body, "invalid_request")) {
						t.Errorf("after %s: %d %s, want 200 or 400 invalid_request", what, status, body)
					}
				}
			})
		}
	})
}

// firstCursor is the first "cursor" string in v, depth first.
func firstCursor(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if c, ok := v["cursor"].(string); ok {
			return c
		}
		for _, x := range v {
			if c := firstCursor(x); c != "" {
				return c
			}
		}
	case []any:
		for _, x := range v {
			if c := firstCursor(x); c != "" {
				return c
			}
		}
	}
	return ""
}

// jsonErrorIs tells whether body is the error shape with code.
func jsonErrorIs(body []byte, code string) bool {
	return strings.HasPrefix(string(body), `{"error":"`+code+`","message":"`)
}
