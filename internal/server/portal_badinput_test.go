package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
)

// TestPortalBadInput sends every kind of bad input to the portal routes: each answers its 4xx
// in the documented {"error","message"} shape and changes nothing.
func TestPortalBadInput(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Strict", 2)
		app := "/api/developer/applications/" + p.app
		conn := app + "/users/" + p.conns[0].ID
		huge := `{"name":"` + strings.Repeat("x", 1<<20+10) + `"}`
		hugeImport := `{"users":[{"externalUserId":"` + strings.Repeat("x", 9<<20) + `","email":"a@example.com"}]}`
		before := e.snapshot()
		for _, tc := range []struct {
			name, method, path string
			body               any
			contentType        string
			status             int
			code               string
		}{
			{"unknown application", "GET", "/api/developer/applications/app_nope", nil, "", 404, "not_found"},
			{"unknown application id shape", "PATCH", "/api/developer/applications/%27%3B--", map[string]any{"name": "x"}, "", 404, "not_found"},
			{"unknown connection", "PATCH", app + "/users/con_nope", map[string]any{"isForwarding": true}, "", 404, "not_found"},
			{"unknown connection email", "PATCH", app + "/users/con_nope/email", map[string]any{"email": "a@example.com"}, "", 404, "not_found"},
			{"unknown connection delete", "DELETE", app + "/users/con_nope", nil, "", 404, "not_found"},
			{"unknown import source", "GET", app + "/import-sources/imp_nope", nil, "", 404, "not_found"},
			{"unknown import source rollback", "POST", app + "/import-sources/imp_nope/rollback", nil, "", 404, "not_found"},

			{"malformed JSON application", "PATCH", app, `{"name":`, "", 400, "invalid_request"},
			{"malformed JSON create", "POST", "/api/developer/applications", `{name: "x"}`, "", 400, "invalid_request"},
			{"malformed JSON connection", "PATCH", conn, `{"isForwarding": tru}`, "", 400, "invalid_request"},
			{"malformed JSON email", "PATCH", conn + "/email", `[`, "", 400, "invalid_request"},
			{"malformed JSON import", "POST", app + "/import-existing-users/csv", `{"users": [}`, "", 400, "invalid_request"},
			{"two JSON values", "PATCH", conn, `{"isForwarding": true}{}`, "", 400, "invalid_request"},
			{"empty body", "PATCH", conn, ``, "", 400, "invalid_request"},

			{"wrong type name", "PATCH", app, map[string]any{"name": 5}, "", 400, "invalid_request"},
			{"wrong type redirectUris", "PATCH", app, map[string]any{"redirectUris": "https://a.example.com/cb"}, "", 400, "invalid_request"},
			{"wrong type isForwarding", "PATCH", conn, map[string]any{"isForwarding": "yes"}, "", 400, "invalid_request"},
			{"wrong type appEmail", "PATCH", conn, map[string]any{"appEmail": 7}, "", 400, "invalid_request"},
			{"wrong type email", "PATCH", conn + "/email", map[string]any{"email": true}, "", 400, "invalid_request"},
			{"wrong type users", "POST", app + "/import-existing-users/csv", map[string]any{"users": "all"}, "", 400, "invalid_request"},
			{"wrong type row field", "POST", app + "/import-existing-users/csv", map[string]any{"users": []any{map[string]any{"externalUserId": 1, "email": "a@example.com"}}}, "", 400, "invalid_request"},
			{"unknown field", "PATCH", app, map[string]any{"nmae": "typo"}, "", 400, "invalid_request"},
			{"unknown connection field", "PATCH", conn, map[string]any{"blocked": true}, "", 400, "invalid_request"},
			{"wrong content type", "PATCH", app, `name=x`, "application/x-www-form-urlencoded", 400, "invalid_request"},

			{"empty patch", "PATCH", app, map[string]any{}, "", 400, "invalid_request"},
			{"empty name", "PATCH", app, map[string]any{"name": "  "}, "", 400, "invalid_request"},
			{"http redirect URI", "PATCH", app, map[string]any{"redirectUris": []string{"http://app.example.com/cb"}}, "", 400, "invalid_request"},
			{"fragment redirect URI", "PATCH", app, map[string]any{"redirectUris": []string{"https://app.example.com/cb#x"}}, "", 400, "invalid_request"},
			{"bad origin", "PATCH", app, map[string]any{"allowedOrigins": []string{"https://app.example.com/path"}}, "", 400, "invalid_request"},
			{"bad webhook URL", "PATCH", app, map[string]any{"webhookUrl": "ftp://x"}, "", 400, "invalid_request"},
			{"HS256 id_token algorithm", "PATCH", app, map[string]any{"idTokenSigningAlg": "HS256"}, "", 400, "invalid_request"},
			{"none id_token algorithm", "POST", "/api/developer/applications", map[string]any{"name": "N", "idTokenSigningAlg": "none"}, "", 400, "invalid_request"},
			{"wrong type idTokenSigningAlg", "PATCH", app, map[string]any{"idTokenSigningAlg": 256}, "", 400, "invalid_request"},
			{"fragment post-logout URI", "PATCH", app, map[string]any{"postLogoutRedirectUris": []string{"https://app.example.com/bye#x"}}, "", 400, "invalid_request"},
			{"bad back-channel logout URI", "PATCH", app, map[string]any{"backchannelLogoutUri": "ftp://x"}, "", 400, "invalid_request"},
			{"create without name", "POST", "/api/developer/applications", map[string]any{"website": "https://a.example.com"}, "", 400, "invalid_request"},
			{"connection patch without fields", "PATCH", conn, map[string]any{}, "", 400, "invalid_request"},
			{"connection patch nulls only", "PATCH", conn, `{"isForwarding": null}`, "", 400, "invalid_request"},
			// An appEmail that is not the person's, and an address another account holds, are no
			// longer bad input: appEmail is the developer's record, and email sync asks the
			// person (attack_test.go checks that neither answer depends on the person's addresses).
			{"appEmail invalid", "PATCH", conn, map[string]any{"appEmail": "not an address"}, "", 400, "invalid_request"},
			{"email missing", "PATCH", conn + "/email", map[string]any{}, "", 400, "invalid_request"},
			{"email invalid", "PATCH", conn + "/email", map[string]any{"email": "two@@example.com"}, "", 400, "invalid_request"},
			{"import without users", "POST", app + "/import-existing-users/csv", map[string]any{"users": []any{}}, "", 400, "invalid_request"},
			{"import source name too long", "POST", app + "/import-existing-users/csv", map[string]any{"sourceName": strings.Repeat("n", 201),
				"users": []any{map[string]any{"externalUserId": "1", "email": "a@example.com"}}}, "", 400, "invalid_request"},
			{"webhook rotate without webhook", "POST", app + "/webhook/secret/rotate", nil, "", 200, ""}, // has a webhook: allowed (checked below)
			{"webhook rotate, revokePrevious not a boolean", "POST", app + "/webhook/secret/rotate?revokePrevious=maybe", nil, "", 400, "invalid_request"},

			{"oversized JSON", "PATCH", app, huge, "", 413, "payload_too_large"},
			{"oversized import", "POST", app + "/import-existing-users/csv", hugeImport, "", 413, "payload_too_large"},
			{"oversized CSV", "POST", app + "/import-existing-users/csv", "user_id,email\n" + strings.Repeat("x", 9<<20) + ",a@example.com\n", "text/csv", 413, "payload_too_large"},

			{"limit zero", "GET", app + "/users?limit=0", nil, "", 400, "invalid_request"},
			{"limit too big", "GET", app + "/users?limit=100000", nil, "", 400, "invalid_request"},
			{"limit not a number", "GET", app + "/users?limit=ten", nil, "", 400, "invalid_request"},
			{"garbage cursor", "GET", app + "/users?limit=2&cursor=%%%", nil, "", 400, "invalid_request"},
			{"forged cursor", "GET", app + "/users?limit=2&cursor=gqFpoXihdpGBoWGhYg", nil, "", 400, "invalid_request"},
			{"cursor without limit", "GET", app + "/users?cursor=abc", nil, "", 400, "invalid_request"},
			{"bad boolean", "GET", app + "/users?active=maybe", nil, "", 400, "invalid_request"},
			{"bad time", "GET", app + "/users?joinedAfter=yesterday", nil, "", 400, "invalid_request"},
			{"bad order", "GET", app + "/users?order=password", nil, "", 400, "invalid_request"},
			{"unknown parameter", "GET", app + "/users?sort=joined", nil, "", 400, "invalid_request"},
			{"applications: limit zero", "GET", "/api/developer/applications" + "?limit=0", nil, "", 400, "invalid_request"},
			{"applications: limit too big", "GET", "/api/developer/applications" + "?limit=101", nil, "", 400, "invalid_request"},
			{"applications: limit not a number", "GET", "/api/developer/applications" + "?limit=ten", nil, "", 400, "invalid_request"},
			{"applications: garbage cursor", "GET", "/api/developer/applications" + "?cursor=%%%", nil, "", 400, "invalid_request"},
			{"applications: forged cursor", "GET", "/api/developer/applications" + "?cursor=gqFpoXihdpGBoWGhYg", nil, "", 400, "invalid_request"},
			{"applications: forged cursor with limit", "GET", "/api/developer/applications" + "?cursor=gqFpoXihdpGBoWGhYg&limit=1", nil, "", 400, "invalid_request"},
			{"import runs: limit zero", "GET", app + "/import-sources" + "?limit=0", nil, "", 400, "invalid_request"},
			{"import runs: limit too big", "GET", app + "/import-sources" + "?limit=101", nil, "", 400, "invalid_request"},
			{"import runs: limit not a number", "GET", app + "/import-sources" + "?limit=ten", nil, "", 400, "invalid_request"},
			{"import runs: garbage cursor", "GET", app + "/import-sources" + "?cursor=%%%", nil, "", 400, "invalid_request"},
			{"import runs: forged cursor", "GET", app + "/import-sources" + "?cursor=gqFpoXihdpGBoWGhYg", nil, "", 400, "invalid_request"},
			{"import runs: forged cursor with limit", "GET", app + "/import-sources" + "?cursor=gqFpoXihdpGBoWGhYg&limit=1", nil, "", 400, "invalid_request"},
			{"search too long", "GET", app + "/users?q=" + strings.Repeat("q", 101), nil, "", 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var status int
				var out []byte
				if tc.contentType != "" {
					status, out = p.dev.do(tc.method, tc.path, tc.body, tc.contentType)
				} else {
					status, out = p.dev.do(tc.method, tc.path, tc.body)
				}
				if status != tc.status || (tc.code != "" && !strings.HasPrefix(string(out), `{"error":"`+tc.code+`","message":"`)) {
					t.Errorf("= %d %.300s, want %d %s", status, out, tc.status, tc.code)
				}
			})
		}
		// Only the allowed rotation changed something: undo its effect on the comparison.
		after := e.snapshot()
		before.AppUpdated, after.AppUpdated = nil, nil
		b, a := before, after
		if b.Apps != a.Apps || b.Connections != a.Connections || b.Sources != a.Sources || b.Retired != a.Retired ||
			b.Events != a.Events || strings.Join(b.Conns, "\n") != strings.Join(a.Conns, "\n") {
			t.Errorf("bad input changed data:\n%+v\n%+v", b, a)
		}
		appNow, _ := e.srv.db.Application.Get(t.Context(), p.app)
		if appNow.Name != "Strict" || len(appNow.RedirectUris) != 1 || appNow.WebhookURL == "" {
			t.Errorf("application changed: %+v", appNow)
		}

		// GraphQL refuses bad arguments the same way.
		for _, tc := range []struct{ name, query, code string }{
			{"negative first", `query($app: ID!) { application(id: $app) { users(first: -1) { totalCount } } }`, "invalid_request"},
			{"page too big", `query($app: ID!) { application(id: $app) { users(first: 5000) { totalCount } } }`, "invalid_request"},
			{"forged cursor", `query($app: ID!) { application(id: $app) { users(first: 1, after: "gqFpoXihdpGBoWGhYg") { totalCount } } }`, "invalid_request"},
			{"search too long", `query($app: ID!) { application(id: $app) { users(filter: {search: "` + strings.Repeat("q", 101) + `"}) { totalCount } } }`, "invalid_request"},
			{"reversed range", `query($app: ID!) { application(id: $app) { analytics { signupsPerDay(from: "2026-05-10T00:00:00Z", to: "2026-05-01T00:00:00Z") { day } } } }`, "invalid_request"},
			{"range too long", `query($app: ID!) { application(id: $app) { analytics { signupsPerDay(from: "2020-01-01T00:00:00Z", to: "2026-05-01T00:00:00Z") { day } } } }`, "invalid_request"},
			{"import without users", `mutation($app: ID!) { importUsers(appId: $app, input: {users: []}) { source { id } } }`, "invalid_request"},
			{"update without fields", `mutation($app: ID!) { updateApplication(id: $app, input: {}) { application { id } } }`, "invalid_request"},
		} {
			t.Run("GraphQL "+tc.name, func(t *testing.T) {
				g := p.dev.gql(tc.query, map[string]any{"app": p.app})
				if g.code() != tc.code {
					t.Errorf("= %+v, want %s", g.Errors, tc.code)
				}
			})
		}
		if n, _ := e.srv.db.ImportSource.Query().Count(t.Context()); n != 0 {
			t.Errorf("%d import sources after refused imports", n)
		}
		_ = time.Second
		_ = ent.Asc
		_ = http.StatusOK
	})
}
