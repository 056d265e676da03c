package rest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/licenses"
	"loginsign/internal/team"
)

// TestUploadsToAnotherDevelopersApplicationAreNotRead: a signed-in developer's code upload or
// user import to an application they are not on the team of answered 400 for a malformed
// CSV (and 413 for an oversized one): the handler read and parsed up to 2 MiB (codes) or
// 8 MiB (imports) before the domain's role check answered 404. Any free account could have
// LoginSign parse the routes' largest bodies for nothing, against any application id. Now
// the role check comes first: 404, body unread.
func TestUploadsToAnotherDevelopersApplicationAreNotRead(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		e.api.Licenses = licenses.New(e.db, func(ctx context.Context, appID string, a team.Action) (*ent.Application, error) {
			return team.Authorize(ctx, e.db.Client, appID, a)
		}, time.Now)
		victim, _, _ := e.client(t)
		_, _, stranger := e.client(t)
		base := "/api/developer/applications/" + victim.ID
		malformed := "code\n\"ABC\n"
		for _, tt := range []struct{ name, path, ctype, body string }{
			{"codes, malformed CSV", base + "/licenses/codes/upload?variantId=lv_x", "text/csv", malformed},
			{"codes, malformed JSON", base + "/licenses/codes/upload", "application/json", `{"variantId":`},
			{"import, malformed CSV", base + "/import-existing-users/csv", "text/csv", "user_id,email\n\"u1\n"},
			{"import, malformed JSON", base + "/import-existing-users/csv", "application/json", `{"users":`},
			{"import, too many rows", base + "/import-existing-users/csv", "text/csv", "user_id,email\n" + strings.Repeat("u,x@example.com\n", 10_001)},
		} {
			if a := e.do(t, "POST", tt.path, tt.ctype, tt.body, nil, stranger); a.status != 404 || a.body["error"] != "not_found" {
				t.Errorf("%s, off the team: %d %v, want 404 not_found", tt.name, a.status, a.body)
			}
		}
	})
}
