package rest_test

import (
	"testing"
)

// TestAReadScopedAppTokenMayAskForTheUsersListsHeaders: GET /api/applications/{appId}/users
// answers HEAD too (its 405 says "use GET, HEAD"), and HEAD reads exactly what GET reads. A
// client_credentials token with app:users:read was refused on HEAD with 403
// insufficient_scope, scope="app:users:write": the route asked the write scope of every
// method but GET, so a backend probing the list with HEAD needed a token that may also change
// its people's plans.
func TestAReadScopedAppTokenMayAskForTheUsersListsHeaders(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, _ := e.client(t)
		cc := e.do(t, "POST", "/oauth/token", form, "grant_type=client_credentials&scope=app%3Ausers%3Aread",
			map[string]string{"Authorization": basic(app.ID, secret)}, nil)
		readOnly, _ := cc.body["access_token"].(string)
		if readOnly == "" {
			t.Fatalf("client_credentials: %v", cc.body)
		}
		users := "/api/applications/" + app.ID + "/users"
		h := map[string]string{"Authorization": "Bearer " + readOnly}
		if a := e.do(t, "GET", users, "", "", h, nil); a.status != 200 {
			t.Fatalf("GET with a read token = %d %v", a.status, a.body)
		}
		if a := e.do(t, "HEAD", users, "", "", h, nil); a.status != 200 {
			t.Fatalf("HEAD with a read token = %d, want 200 as for GET (WWW-Authenticate %q)", a.status, a.header.Get("WWW-Authenticate"))
		}
	})
}
