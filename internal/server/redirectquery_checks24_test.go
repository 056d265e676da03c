package server

import (
	"strings"
	"testing"
)

// TestARedirectURIWithAnAnswerParameterIsRefusedOnEveryTransport: a redirect URI whose query
// holds code, state or iss (or a post-logout redirect URI holding state) is refused by REST
// and GraphQL alike, in their documented error shapes, naming the parameter, and nothing is
// stored; the same URIs without it are accepted.
func TestARedirectURIWithAnAnswerParameterIsRefusedOnEveryTransport(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		p := e.population("Query", 1)
		app := "/api/developer/applications/" + p.app
		for _, tc := range []struct {
			name, method, path string
			body               map[string]any
			param              string
		}{
			{"create with code", "POST", "/api/developer/applications", map[string]any{"name": "Q", "redirectUris": []string{"https://q.example/cb?code=x"}}, "code"},
			{"update with state", "PATCH", app, map[string]any{"redirectUris": []string{"https://q.example/cb?next=%2F&state=x"}}, "state"},
			{"update with iss", "PATCH", app, map[string]any{"redirectUris": []string{"https://q.example/cb?iss=https%3A%2F%2Fevil.example"}}, "iss"},
			{"post-logout with state", "PATCH", app, map[string]any{"postLogoutRedirectUris": []string{"https://q.example/bye?state=x"}}, "state"},
		} {
			status, out := p.dev.do(tc.method, tc.path, tc.body)
			if status != 400 || !strings.HasPrefix(string(out), `{"error":"invalid_request","message":"`) ||
				!strings.Contains(string(out), "must not carry "+tc.param+" in its query") {
				t.Errorf("%s: %d %.300s, want 400 invalid_request naming %s", tc.name, status, out, tc.param)
			}
		}
		g := p.dev.gql(`mutation($app: ID!) { updateApplication(id: $app, input: {redirectUris: ["https://q.example/cb?code=x"]}) { application { id } } }`,
			map[string]any{"app": p.app})
		if g.code() != "invalid_request" || !strings.Contains(g.Errors[0].Message, "must not carry code in its query") {
			t.Errorf("GraphQL update: %+v, want invalid_request naming code", g.Errors)
		}
		if a, _ := e.srv.db.Application.Get(t.Context(), p.app); a == nil || len(a.RedirectUris) != 1 || strings.Contains(a.RedirectUris[0], "q.example") ||
			len(a.PostLogoutRedirectUris) != 0 {
			t.Errorf("application changed: %+v", a)
		}
		if n, _ := e.srv.db.Application.Query().Count(t.Context()); n != 1 {
			t.Errorf("%d applications, want the one of the population", n)
		}
		p.dev.json("PATCH", app, map[string]any{"redirectUris": []string{"https://q.example/cb?next=%2F&mode=code"},
			"postLogoutRedirectUris": []string{"https://q.example/bye?code=x"}}, 200)
	})
}
