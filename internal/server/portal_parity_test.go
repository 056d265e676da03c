package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
)

// Each test here runs one operation through REST and through GraphQL and checks that both
// answer the same.

// userRowFields is the GraphQL selection that carries the REST user row.
const userRowFields = `id globalId name email developerEmail active blocked emailMuted loginCount lastSessionAt joinedAt region`

// restRow turns a GraphQL AppConnection into the REST row shape.
func restRow(n map[string]any) map[string]any {
	ts := func(v any) any {
		if v == nil {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, v.(string))
		if err != nil {
			return v
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	out := map[string]any{"id": n["id"], "globalId": n["globalId"], "name": n["name"], "email": n["email"],
		"active": n["active"], "blocked": n["blocked"], "emailMuted": n["emailMuted"], "sessions": n["loginCount"],
		"lastSession": ts(n["lastSessionAt"]), "joined": ts(n["joinedAt"]), "region": blank(n["region"])}
	if d, _ := n["developerEmail"].(string); d != "" {
		out["appEmail"] = d // REST shows the developer's record only when there is one
	}
	return out
}

// blank is how the two transports show an unset optional text: entgql's generated fields give
// "", the REST DTOs give null. Both mean "not set"; compare them as null.
func blank(v any) any {
	if v == "" {
		return nil
	}
	return v
}

func edges(v any) []map[string]any {
	var out []map[string]any
	for _, e := range v.(map[string]any)["edges"].([]any) {
		out = append(out, e.(map[string]any)["node"].(map[string]any))
	}
	return out
}

func sameJSON(t *testing.T, what string, rest, gql any) {
	t.Helper()
	r, _ := json.Marshal(rest)
	g, _ := json.Marshal(gql)
	var rv, gv any
	json.Unmarshal(r, &rv)
	json.Unmarshal(g, &gv)
	if !reflect.DeepEqual(rv, gv) {
		t.Errorf("%s differs:\nREST    %s\nGraphQL %s", what, r, g)
	}
}

// population is one developer's application with a handful of varied connections.
type population struct {
	dev    *person
	app    string
	people []*person
	conns  []*ent.AppConnection
}

func (e *portalEnv) population(devName string, n int) population {
	e.t.Helper()
	dev := e.person(devName+"@example.com", devName, true)
	p := population{dev: dev, app: dev.createApp(devName, true)}
	regions := []string{"Germany", "France", "", "Germany"}
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		who := e.person(strings.ToLower(devName)+"-user"+string(rune('a'+i))+"@example.com", "User "+string(rune('A'+i)), false)
		c := e.connect(who, p.app, func(c *ent.AppConnectionCreate) {
			c.SetJoinedAt(base.Add(time.Duration(i) * 24 * time.Hour)).SetLoginCount(i * 3).SetRegion(regions[i%len(regions)]).
				SetBlocked(i%3 == 2).SetActive(i%4 != 3)
			if i%2 == 0 {
				c.SetLastSessionAt(base.Add(time.Duration(i)*24*time.Hour + time.Hour))
			}
			if i == 1 {
				c.SetAppEmail(who.user.Email)
			}
			if i == 2 {
				c.SetEmailMuted(true)
			}
		})
		p.people = append(p.people, who)
		p.conns = append(p.conns, c)
	}
	return p
}

func TestParityListUsers(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Lister", 6)
		gid := strings.ToLower(p.people[3].user.GlobalID)
		aliasPart := strings.ToUpper(p.conns[4].AliasEmail[:5])
		for _, tc := range []struct {
			name, query string
			args        string
			total       int
		}{
			{"everything", "", "", 6},
			{"first page", "?limit=2", "first: 2", 6},
			{"filtered", "?region=germany&active=true", `filter: {region: "germany", active: true}`, 2},
			{"search by name", "?q=user+b", `filter: {search: "user b"}`, 1},
			{"muted", "?muted=true", `filter: {muted: true}`, 1},
			{"search Global ID in lower case", "?q=" + gid, `filter: {search: "` + gid + `"}`, 1},
			{"search alias", "?q=" + aliasPart, `filter: {search: "` + aliasPart + `"}`, 1},
			{"search shared address", "?q=LISTER-USERB%40", `filter: {search: "LISTER-USERB@"}`, 1},
			{"search percent is literal", "?q=%25", `filter: {search: "%"}`, 0},
			{"search underscore is literal", "?q=ser_b", `filter: {search: "ser_b"}`, 0},
			{"joined range", "?joinedAfter=2026-05-02T00:00:00Z&joinedBefore=2026-05-04T00:00:00Z",
				`filter: {joinedAfter: "2026-05-02T00:00:00Z", joinedBefore: "2026-05-04T00:00:00Z"}`, 2},
			{"by sessions ascending", "?order=sessions&limit=3", `first: 3, orderBy: [{field: LOGIN_COUNT, direction: ASC}]`, 6},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rest := p.dev.json("GET", "/api/developer/applications/"+p.app+"/users"+tc.query, nil, http.StatusOK)
				// REST without limit answers the whole list; GraphQL reads a connection's edges
				// a page at a time, the largest page here.
				args := "(first: 1000)"
				if tc.args != "" && !strings.Contains(tc.args, "first:") {
					args = "(first: 1000, " + tc.args + ")"
				} else if tc.args != "" {
					args = "(" + tc.args + ")"
				}
				data := p.dev.mustGQL(`query($app: ID!) { application(id: $app) { users`+args+` { totalCount edges { node { `+userRowFields+` } } } } }`,
					map[string]any{"app": p.app})
				users := data["application"].(map[string]any)["users"]
				rows := []map[string]any{}
				for _, n := range edges(users) {
					rows = append(rows, restRow(n))
				}
				if rest["total"] != float64(tc.total) {
					t.Errorf("REST total = %v, want %d", rest["total"], tc.total)
				}
				sameJSON(t, "users", rest, map[string]any{"users": rows, "total": users.(map[string]any)["totalCount"]})
			})
		}
		// The REST row has exactly the documented keys.
		rest := p.dev.json("GET", "/api/developer/applications/"+p.app+"/users?limit=1", nil, http.StatusOK)
		var keys []string
		for k := range rest["users"].([]any)[0].(map[string]any) {
			keys = append(keys, k)
		}
		if len(keys) != 11 || len(rest) != 2 {
			t.Errorf("REST shape: %v", rest)
		}
	})
}

func TestParityUsersDeepPage(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Pager", 7)
		// Walk the REST list by cursor and compare with GraphQL's pages.
		var restIDs []string
		path := "/api/developer/applications/" + p.app + "/users?limit=3"
		cursor := ""
		for range 5 {
			req := path
			if cursor != "" {
				req += "&cursor=" + cursor
			}
			status, body := p.dev.do("GET", req, nil)
			if status != 200 {
				t.Fatalf("%s = %d %s", req, status, body)
			}
			var v struct {
				Users []struct{ ID string }
				Total int
			}
			json.Unmarshal(body, &v)
			if v.Total != 7 {
				t.Errorf("page total = %d", v.Total)
			}
			for _, u := range v.Users {
				restIDs = append(restIDs, u.ID)
			}
			resp, _ := http.NewRequest("GET", e.url+req, nil)
			resp.AddCookie(&http.Cookie{Name: "ls_session", Value: p.dev.cookie})
			r, err := http.DefaultClient.Do(resp)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			cursor = r.Header.Get("X-Next-Cursor")
			if cursor == "" {
				break
			}
			cursor = strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(cursor)
		}
		var gqlIDs []string
		after := any(nil)
		for {
			d := p.dev.mustGQL(`query($app: ID!, $after: Cursor) { application(id: $app) { users(first: 3, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } } } }`,
				map[string]any{"app": p.app, "after": after})
			u := d["application"].(map[string]any)["users"].(map[string]any)
			for _, n := range edges(u) {
				gqlIDs = append(gqlIDs, n["id"].(string))
			}
			pi := u["pageInfo"].(map[string]any)
			if pi["hasNextPage"] != true {
				break
			}
			after = pi["endCursor"]
		}
		if len(restIDs) != 7 || !reflect.DeepEqual(restIDs, gqlIDs) {
			t.Errorf("REST pages %v, GraphQL pages %v", restIDs, gqlIDs)
		}
		// Newest first.
		if restIDs[0] != p.conns[6].ID || restIDs[6] != p.conns[0].ID {
			t.Errorf("order %v", restIDs)
		}
		// Walking by another order (sessions, descending) gives the same rows as one GraphQL page.
		var bySessions []string
		next := ""
		for range 10 {
			req := "/api/developer/applications/" + p.app + "/users?order=-sessions&limit=2"
			if next != "" {
				req += "&cursor=" + url.QueryEscape(next)
			}
			r, _ := http.NewRequest("GET", e.url+req, nil)
			r.AddCookie(&http.Cookie{Name: "ls_session", Value: p.dev.cookie})
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Users []struct{ ID string } }
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s = %d", req, resp.StatusCode)
			}
			for _, u := range v.Users {
				bySessions = append(bySessions, u.ID)
			}
			if next = resp.Header.Get("X-Next-Cursor"); next == "" {
				break
			}
		}
		g := p.dev.mustGQL(`query($app: ID!) { application(id: $app) { users(first: 100, orderBy: [{field: LOGIN_COUNT, direction: DESC}]) { edges { node { id } } } } }`,
			map[string]any{"app": p.app})
		var want []string
		for _, n := range edges(g["application"].(map[string]any)["users"]) {
			want = append(want, n["id"].(string))
		}
		if !reflect.DeepEqual(bySessions, want) {
			t.Errorf("by sessions: REST pages %v, GraphQL %v", bySessions, want)
		}

		// Backwards from the fourth row gives the first three, with the whole list's total.
		d := p.dev.mustGQL(`query($app: ID!) { application(id: $app) { users(first: 4) { edges { cursor } } } }`, map[string]any{"app": p.app})
		es := d["application"].(map[string]any)["users"].(map[string]any)["edges"].([]any)
		fourth := es[3].(map[string]any)["cursor"]
		d = p.dev.mustGQL(`query($app: ID!, $before: Cursor) { application(id: $app) { users(last: 3, before: $before) { totalCount edges { node { id } } } } }`,
			map[string]any{"app": p.app, "before": fourth})
		u := d["application"].(map[string]any)["users"].(map[string]any)
		var back []string
		for _, n := range edges(u) {
			back = append(back, n["id"].(string))
		}
		if !reflect.DeepEqual(back, restIDs[:3]) || u["totalCount"] != float64(7) {
			t.Errorf("backwards page %v (total %v), want %v", back, u["totalCount"], restIDs[:3])
		}
	})
}

func TestParityUpdateConnection(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Updater", 2)
		alt := p.people[1]
		now := time.Now()
		e.srv.db.UserEmail.Create().SetUserID(alt.user.ID).SetEmail("alt-verified@example.com").SetVerifiedAt(now).ExecX(t.Context())

		// appEmail is the developer's own record: any well-formed address is stored (the
		// person's own address, or anybody's), and the address the app is shown ("email", the
		// person's choice) does not move.
		restRowOf := func(v map[string]any) map[string]any { return v }
		rest := p.dev.json("PATCH", "/api/developer/applications/"+p.app+"/users/"+p.conns[0].ID,
			map[string]any{"isForwarding": false, "appEmail": " Someone-Else@Example.com "}, http.StatusOK)
		g := p.dev.mustGQL(`mutation($app: ID!, $conn: ID!, $email: String) { updateAppConnection(appId: $app, connectionId: $conn, input: {isForwarding: false, appEmail: $email}) { `+userRowFields+` } }`,
			map[string]any{"app": p.app, "conn": p.conns[1].ID, "email": "alt-verified@example.com"})
		gr := restRow(g["updateAppConnection"].(map[string]any))
		shown := func(c *ent.AppConnection) string { // what the person chose to show the app
			if c.AppEmail == "" {
				return "-"
			}
			return c.AppEmail
		}
		if rest["emailMuted"] != true || gr["emailMuted"] != true || rest["email"] != shown(p.conns[0]) || gr["email"] != shown(p.conns[1]) ||
			rest["appEmail"] != "someone-else@example.com" || gr["appEmail"] != "alt-verified@example.com" {
			t.Errorf("REST %v\nGraphQL %v", rest, gr)
		}
		// Same keys and the rest of the row as the list shows it.
		list := p.dev.json("GET", "/api/developer/applications/"+p.app+"/users", nil, 200)["users"].([]any)
		for _, u := range list {
			u := u.(map[string]any)
			switch u["id"] {
			case rest["id"]:
				sameJSON(t, "REST PATCH answer vs list row", restRowOf(rest), u)
			case gr["id"]:
				sameJSON(t, "GraphQL answer vs list row", gr, u)
			}
		}
		// Refusals answer alike: a malformed address, no field at all.
		for _, tc := range []struct {
			name string
			body map[string]any
			gql  string
		}{
			{"malformed address", map[string]any{"appEmail": "two@@example.com"}, `{appEmail: "two@@example.com"}`},
			{"nothing", map[string]any{}, `{}`},
		} {
			status, body := p.dev.do("PATCH", "/api/developer/applications/"+p.app+"/users/"+p.conns[1].ID, tc.body)
			gq := p.dev.gql(`mutation($app: ID!, $conn: ID!) { updateAppConnection(appId: $app, connectionId: $conn, input: `+tc.gql+`) { id } }`,
				map[string]any{"app": p.app, "conn": p.conns[1].ID})
			var rb map[string]any
			json.Unmarshal(body, &rb)
			if status != 400 || gq.code() != "invalid_request" || rb["message"] != gq.Errors[0].Message {
				t.Errorf("%s: REST %d %s, GraphQL %+v", tc.name, status, body, gq.Errors)
			}
		}
		// "" clears the record.
		v := p.dev.json("PATCH", "/api/developer/applications/"+p.app+"/users/"+p.conns[0].ID, map[string]any{"appEmail": ""}, 200)
		if _, has := v["appEmail"]; has || v["email"] != shown(p.conns[0]) {
			t.Errorf("after clearing: %v", v)
		}
	})
}

func TestParitySyncEmail(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Syncer", 2)
		e.person("taken@example.com", "", false)
		path := func(c *ent.AppConnection) string {
			return "/api/developer/applications/" + p.app + "/users/" + c.ID + "/email"
		}
		const m = `mutation($app: ID!, $conn: ID!, $email: String!) { syncConnectionEmail(appId: $app, connectionId: $conn, email: $email) { ok changed pending } }`
		vars := func(c *ent.AppConnection, email string) map[string]any {
			return map[string]any{"app": p.app, "conn": c.ID, "email": email}
		}
		// Already the primary address, which the app sees (conns[1] shares it): changed false,
		// nothing pending, on both transports. conns[0] does not share it: its real address is
		// answered like any guess (pending), so the answer cannot confirm it.
		if v := p.dev.json("PATCH", path(p.conns[1]), map[string]any{"email": p.people[1].user.Email}, 200); v["changed"] != false || v["ok"] != true || v["pending"] != nil {
			t.Errorf("REST same address: %v", v)
		}
		if v := p.dev.json("PATCH", path(p.conns[0]), map[string]any{"email": p.people[0].user.Email}, 200); v["changed"] != false || v["ok"] != true || v["pending"] != true {
			t.Errorf("REST same address the app does not see: %v", v)
		}
		if d := p.dev.mustGQL(m, vars(p.conns[1], strings.ToUpper(p.people[1].user.Email))); d["syncConnectionEmail"].(map[string]any)["changed"] != false ||
			d["syncConnectionEmail"].(map[string]any)["pending"] != nil {
			t.Errorf("GraphQL same address: %v", d)
		}
		// A new address, free or another account's: a pending request, the same answer.
		for _, addr := range []string{"New-Zero@example.com", "taken@example.com"} {
			if v := p.dev.json("PATCH", path(p.conns[0]), map[string]any{"email": addr}, 200); v["changed"] != false || v["pending"] != true {
				t.Errorf("REST %s: %v", addr, v)
			}
			if d := p.dev.mustGQL(m, vars(p.conns[1], addr)); d["syncConnectionEmail"].(map[string]any)["changed"] != false ||
				d["syncConnectionEmail"].(map[string]any)["pending"] != true {
				t.Errorf("GraphQL %s: %v", addr, d)
			}
		}
		// Nothing changed: the person has not confirmed.
		for _, u := range []*ent.User{p.people[0].user, p.people[1].user} {
			got, _ := e.srv.db.User.Get(t.Context(), u.ID)
			if got.EmailVersion != u.EmailVersion || got.Email != u.Email {
				t.Errorf("%s changed to %s (version %d) without the person's confirmation", u.Email, got.Email, got.EmailVersion)
			}
		}
		for _, tc := range []struct {
			email, code string
			status      int
		}{{"not an address", "invalid_request", 400}, {"", "invalid_request", 400}} {
			status, body := p.dev.do("PATCH", path(p.conns[0]), map[string]any{"email": tc.email})
			g := p.dev.gql(m, vars(p.conns[0], tc.email))
			var rb map[string]any
			json.Unmarshal(body, &rb)
			if status != tc.status || rb["error"] != tc.code || g.code() != tc.code || rb["message"] != g.Errors[0].Message {
				t.Errorf("%q: REST %d %s; GraphQL %+v", tc.email, status, body, g.Errors)
			}
		}
	})
}

func TestParityDeleteConnection(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Deleter", 2)
		v := p.dev.json("DELETE", "/api/developer/applications/"+p.app+"/users/"+p.conns[0].ID, nil, 200)
		sameJSON(t, "REST answer", v, map[string]any{"ok": true})
		d := p.dev.mustGQL(`mutation($app: ID!, $conn: ID!) { deleteAppConnection(appId: $app, connectionId: $conn) { deletedId } }`,
			map[string]any{"app": p.app, "conn": p.conns[1].ID})
		if d["deleteAppConnection"].(map[string]any)["deletedId"] != p.conns[1].ID {
			t.Errorf("GraphQL: %v", d)
		}
		ctx := t.Context()
		for _, c := range p.conns {
			if ok, _ := e.srv.db.AppConnection.Query().Where(appconnection.ID(c.ID)).Exist(ctx); ok {
				t.Errorf("connection %s still exists", c.ID)
			}
			if n, _ := e.srv.db.RetiredAlias.Query().Count(ctx); n != 2 {
				t.Errorf("retired aliases = %d, want 2", n)
			}
		}
		if n, _ := e.srv.db.WebhookEvent.Query().Count(ctx); n != 2 {
			t.Errorf("user_account_deleted events = %d, want 2", n)
		}
		// Deleting again: both answer not found.
		status, _ := p.dev.do("DELETE", "/api/developer/applications/"+p.app+"/users/"+p.conns[0].ID, nil)
		g := p.dev.gql(`mutation($app: ID!, $conn: ID!) { deleteAppConnection(appId: $app, connectionId: $conn) { deletedId } }`,
			map[string]any{"app": p.app, "conn": p.conns[0].ID})
		if status != 404 || g.code() != "not_found" {
			t.Errorf("second delete: REST %d GraphQL %+v", status, g.Errors)
		}
	})
}

func TestParitySyncTests(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Tester", 3)
		rest := p.dev.json("POST", "/api/developer/applications/"+p.app+"/email-sync-api/test", nil, 200)
		g := p.dev.mustGQL(`mutation($app: ID!) { testEmailSyncApi(appId: $app) { ok endpoint webhookConfigured events } }`, map[string]any{"app": p.app})
		sameJSON(t, "email sync test", rest, g["testEmailSyncApi"])
		sameJSON(t, "email sync test shape", rest, map[string]any{"ok": true, "endpoint": "PATCH /api/developer/applications/" + p.app + "/users/:connectionId/email",
			"webhookConfigured": true, "events": []string{"email_changed"}})

		rest = p.dev.json("POST", "/api/developer/applications/"+p.app+"/current-logins-sync-api/test", nil, 200)
		g = p.dev.mustGQL(`mutation($app: ID!) { testCurrentLoginsSyncApi(appId: $app) { ok endpoint auth total } }`, map[string]any{"app": p.app})
		sameJSON(t, "current logins test", rest, g["testCurrentLoginsSyncApi"])
		sameJSON(t, "current logins shape", rest, map[string]any{"ok": true, "endpoint": "GET /api/applications/" + p.app + "/users", "auth": "basic", "total": 3})
	})
}

// appFields is the GraphQL selection matching the REST application.
const appFields = `id name website iconURL termsURL privacyURL redirectUris allowedOrigins webhookUrl clientRequestsPerMinute idTokenSigningAlg postLogoutRedirectUris backchannelLogoutUri requirePushedAuthorizationRequests createdAt updatedAt viewerRole`

func restApp(g map[string]any) map[string]any {
	ts := func(v any) any {
		t, _ := time.Parse(time.RFC3339Nano, v.(string))
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return map[string]any{"id": g["id"], "clientId": g["id"], "name": g["name"], "website": blank(g["website"]), "iconUrl": blank(g["iconURL"]),
		"termsUrl": blank(g["termsURL"]), "privacyUrl": blank(g["privacyURL"]), "redirectUris": g["redirectUris"], "allowedOrigins": g["allowedOrigins"],
		"webhookUrl": g["webhookUrl"], "clientRequestsPerMinute": g["clientRequestsPerMinute"], "idTokenSigningAlg": g["idTokenSigningAlg"],
		"postLogoutRedirectUris": g["postLogoutRedirectUris"], "backchannelLogoutUri": g["backchannelLogoutUri"],
		"requirePushedAuthorizationRequests": g["requirePushedAuthorizationRequests"],
		"createdAt":                          ts(g["createdAt"]), "updatedAt": ts(g["updatedAt"]), "role": strings.ToLower(g["viewerRole"].(string))}
}

func TestParityApplications(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("owner@example.com", "Owner", true)
		one, two := dev.createApp("One", false), dev.createApp("Two", false)

		t.Run("get", func(t *testing.T) {
			rest := dev.json("GET", "/api/developer/applications/"+one, nil, 200)
			g := dev.mustGQL(`query($id: ID!) { application(id: $id) { `+appFields+` } }`, map[string]any{"id": one})
			sameJSON(t, "application", rest, restApp(g["application"].(map[string]any)))
			list := dev.json("GET", "/api/developer/applications", nil, 200)["applications"].([]any)
			if len(list) != 2 || list[0].(map[string]any)["id"] != two {
				t.Errorf("list (newest first): %v", list)
			}
		})

		t.Run("update", func(t *testing.T) {
			patch := map[string]any{"name": "Renamed", "website": "https://renamed.example.com", "iconUrl": "https://renamed.example.com/i.png",
				"termsUrl": "https://renamed.example.com/terms", "privacyUrl": "https://renamed.example.com/privacy",
				"redirectUris":   []string{"https://renamed.example.com/cb", "http://localhost:3000/cb"},
				"allowedOrigins": []string{"https://renamed.example.com"}, "webhookUrl": "https://renamed.example.com/hook",
				"clientRequestsPerMinute": 1200,
				"idTokenSigningAlg":       "RS256", "postLogoutRedirectUris": []string{"https://renamed.example.com/bye"},
				"backchannelLogoutUri": "https://renamed.example.com/logout", "requirePushedAuthorizationRequests": true}
			rest := dev.json("PATCH", "/api/developer/applications/"+one, patch, 200)
			g := dev.mustGQL(`mutation($id: ID!, $in: UpdateApplicationInput!) { updateApplication(id: $id, input: $in) { webhookSecret application { `+appFields+` } } }`,
				map[string]any{"id": two, "in": patch})["updateApplication"].(map[string]any)
			for _, s := range []any{rest["webhookSecret"], g["webhookSecret"]} {
				if s, _ := s.(string); !strings.HasPrefix(s, "whsec_") {
					t.Errorf("first webhook URL gave secret %q", s)
				}
			}
			ga := restApp(g["application"].(map[string]any))
			delete(rest, "webhookSecret")
			for _, k := range []string{"id", "clientId", "createdAt", "updatedAt"} {
				delete(rest, k)
				delete(ga, k)
			}
			sameJSON(t, "updated application", rest, ga)
			// Changing the URL again keeps the secret (none shown); clearing removes the URL and
			// keeps the secret, which a URL set again signs with (only a rotation makes a new one).
			again := dev.json("PATCH", "/api/developer/applications/"+one, map[string]any{"webhookUrl": "https://renamed.example.com/hook2"}, 200)
			if _, shown := again["webhookSecret"]; shown {
				t.Errorf("changing the URL showed a new secret: %v", again)
			}
			before, _ := e.srv.db.Application.Get(t.Context(), one)
			cleared := dev.json("PATCH", "/api/developer/applications/"+one, map[string]any{"webhookUrl": ""}, 200)
			app, _ := e.srv.db.Application.Get(t.Context(), one)
			if cleared["webhookUrl"] != nil || app.WebhookURL != "" || string(app.WebhookSecret) != string(before.WebhookSecret) {
				t.Errorf("clearing the webhook: %v, secret kept %v", cleared, string(app.WebhookSecret) == string(before.WebhookSecret))
			}
			set := dev.json("PATCH", "/api/developer/applications/"+one, map[string]any{"webhookUrl": "https://renamed.example.com/hook3"}, 200)
			app, _ = e.srv.db.Application.Get(t.Context(), one)
			if _, shown := set["webhookSecret"]; shown || string(app.WebhookSecret) != string(before.WebhookSecret) {
				t.Errorf("setting the URL again: %v, want the kept secret, not shown", set)
			}
			dev.json("PATCH", "/api/developer/applications/"+one, map[string]any{"webhookUrl": ""}, 200)
			// Bad settings answer alike.
			status, body := dev.do("PATCH", "/api/developer/applications/"+one, map[string]any{"redirectUris": []string{"http://evil.example.com/cb"}})
			gq := dev.gql(`mutation($id: ID!) { updateApplication(id: $id, input: {redirectUris: ["http://evil.example.com/cb"]}) { application { id } } }`, map[string]any{"id": two})
			var rb map[string]any
			json.Unmarshal(body, &rb)
			if status != 400 || gq.code() != "invalid_request" || rb["message"] != gq.Errors[0].Message {
				t.Errorf("bad redirect URI: REST %d %s, GraphQL %+v", status, body, gq.Errors)
			}
		})

		t.Run("rotate secrets", func(t *testing.T) {
			hash := func(id string) (string, []byte) {
				a, err := e.srv.db.Application.Get(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				return a.SecretHash, a.WebhookSecret
			}
			h1, _ := hash(one)
			rest := dev.json("POST", "/api/developer/applications/"+one+"/secret/rotate", nil, 200)
			h2, _ := hash(two)
			g := dev.mustGQL(`mutation($id: ID!) { rotateClientSecret(id: $id) { secret application { id } } }`, map[string]any{"id": two})["rotateClientSecret"].(map[string]any)
			for _, s := range []any{rest["clientSecret"], g["secret"]} {
				if s, _ := s.(string); !strings.HasPrefix(s, "lss_") || len(s) < 40 {
					t.Errorf("client secret %q", s)
				}
			}
			if n1, _ := hash(one); n1 == h1 {
				t.Error("REST rotation kept the old hash")
			}
			if n2, _ := hash(two); n2 == h2 {
				t.Error("GraphQL rotation kept the old hash")
			}
			// Webhook secret: one has no webhook any more (cleared above): both refuse alike.
			status, body := dev.do("POST", "/api/developer/applications/"+one+"/webhook/secret/rotate", nil)
			gq := dev.gql(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, map[string]any{"id": one})
			if status != 409 || gq.code() != "no_webhook" {
				t.Errorf("no webhook: REST %d %s, GraphQL %+v", status, body, gq.Errors)
			}
			_, w2 := hash(two)
			rw := dev.json("POST", "/api/developer/applications/"+two+"/webhook/secret/rotate", nil, 200)
			_, w3 := hash(two)
			gw := dev.mustGQL(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, map[string]any{"id": two})["rotateWebhookSecret"].(map[string]any)
			for _, s := range []any{rw["webhookSecret"], gw["secret"]} {
				if s, _ := s.(string); !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 {
					t.Errorf("webhook secret %q", s)
				}
			}
			if string(w2) == string(w3) {
				t.Error("webhook rotation kept the sealed secret")
			}
			// The replaced secret signs for a day next to the new one, unless the reset revokes it.
			if until, _ := rw["previousSecretValidUntil"].(string); until == "" {
				t.Errorf("REST reset: previousSecretValidUntil %v, want the end of the overlap", rw["previousSecretValidUntil"])
			}
			revoked := dev.json("POST", "/api/developer/applications/"+two+"/webhook/secret/rotate?revokePrevious=true", nil, 200)
			gr := dev.mustGQL(`mutation($id: ID!) { resetWebhookSecret(input: {applicationId: $id, revokePrevious: true}) { webhookSecret previousSecretValidUntil } }`,
				map[string]any{"id": two})["resetWebhookSecret"].(map[string]any)
			gk := dev.mustGQL(`mutation($id: ID!) { resetWebhookSecret(input: {applicationId: $id}) { previousSecretValidUntil } }`,
				map[string]any{"id": two})["resetWebhookSecret"].(map[string]any)
			if revoked["previousSecretValidUntil"] != nil || gr["previousSecretValidUntil"] != nil || gk["previousSecretValidUntil"] == nil {
				t.Errorf("previousSecretValidUntil: REST revoking %v, GraphQL revoking %v, GraphQL keeping %v", revoked["previousSecretValidUntil"],
					gr["previousSecretValidUntil"], gk["previousSecretValidUntil"])
			}
		})

		t.Run("delete", func(t *testing.T) {
			who := e.person("connected@example.com", "", false)
			c1 := e.connect(who, one)
			c2 := e.connect(who, two)
			sameJSON(t, "REST delete", dev.json("DELETE", "/api/developer/applications/"+one, nil, 200), map[string]any{"ok": true})
			g := dev.mustGQL(`mutation($id: ID!) { deleteApplication(id: $id) { deletedId } }`, map[string]any{"id": two})
			if g["deleteApplication"].(map[string]any)["deletedId"] != two {
				t.Errorf("GraphQL delete: %v", g)
			}
			ctx := t.Context()
			if n, _ := e.srv.db.Application.Query().Where(application.IDIn(one, two)).Count(ctx); n != 0 {
				t.Errorf("%d applications left", n)
			}
			if n, _ := e.srv.db.AppConnection.Query().Where(appconnection.IDIn(c1.ID, c2.ID)).Count(ctx); n != 0 {
				t.Errorf("%d connections left", n)
			}
			if n, _ := e.srv.db.RetiredAlias.Query().Count(ctx); n != 2 {
				t.Errorf("retired aliases = %d, want 2", n)
			}
			for _, id := range []string{one, two} {
				if status, _ := dev.do("GET", "/api/developer/applications/"+id, nil); status != 404 {
					t.Errorf("deleted application answers %d", status)
				}
			}
		})
	})
}

func TestParityRedirectURICheck(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("checker@example.com", "Checker", true)
		app := dev.createApp("Checker", false)
		for _, uri := range []string{"https://checker.example.com/cb", "https://checker.example.com/other", "http://evil.example.com/cb"} {
			rest := dev.json("GET", "/api/oauth/healthcheck?client_id="+app+"&redirect_uri="+url.QueryEscape(uri), nil, 200)
			g := dev.mustGQL(`query($app: ID!, $uri: String!) { redirectUriCheck(appId: $app, redirectUri: $uri) {
				ok clientId clientFound redirectUri redirectUriRegistered matchedRedirectUri closestRedirectUri https problems } }`,
				map[string]any{"app": app, "uri": uri})["redirectUriCheck"].(map[string]any)
			// One result type (oauth.HealthcheckResult): every field of the REST answer, the
			// closest registered URI included, is the GraphQL answer's.
			if len(rest) != len(g) {
				t.Errorf("%s: REST fields %v, GraphQL fields %v", uri, rest, g)
			}
			for k, r := range rest {
				if gv := g[k]; fmt.Sprint(r) != fmt.Sprint(gv) {
					t.Errorf("%s: %s: REST %v, GraphQL %v", uri, k, r, gv)
				}
			}
			if want := "https://checker.example.com/cb"; uri == "https://checker.example.com/other" && g["closestRedirectUri"] != want {
				t.Errorf("%s: closestRedirectUri = %v, want %s", uri, g["closestRedirectUri"], want)
			}
			// Without the team's session, REST tells whether the pair matches and nothing of
			// the URIs the caller did not send.
			anon := e.anonymous().json("GET", "/api/oauth/healthcheck?client_id="+app+"&redirect_uri="+url.QueryEscape(uri), nil, 200)
			if anon["ok"] != g["ok"] || anon["closestRedirectUri"] != nil ||
				strings.Contains(fmt.Sprint(anon["problems"]), `registered "`) {
				t.Errorf("%s: anonymous healthcheck %v", uri, anon)
			}
			if (uri == "https://checker.example.com/cb") != (g["ok"] == true) {
				t.Errorf("%s: ok = %v", uri, g["ok"])
			}
		}
	})
}
