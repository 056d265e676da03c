package portal_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestNamesAreCountedInCharacters: an application's name, an import's source name and an
// imported person's name are limited to 200 characters, as their messages say, however many
// bytes those take (200 CJK characters are 600 bytes); 201 are refused. Before, the checks
// and the schema counted bytes, so a Japanese name of 67 characters was "longer than 200
// characters".
func TestNamesAreCountedInCharacters(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		long, over := strings.Repeat("店", 200), strings.Repeat("店", 201)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: long, RedirectURIs: []string{"https://shop.example/cb"}})
		if err != nil || created.Application.Name != long {
			t.Fatalf("an application named with 200 characters (%d bytes): %v, want it created", len(long), err)
		}
		if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: over, RedirectURIs: []string{"https://shop.example/cb"}}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("an application named with 201 characters: %v, want invalid_request", err)
		}

		app := created.Application
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{SourceName: long, Users: []portal.ImportUser{
			{ExternalUserID: "e1", Email: "mei@example.com", Name: long},
			{ExternalUserID: "e2", Email: "ren@example.com", Name: over},
		}})
		if err != nil {
			t.Fatalf("an import whose source name has 200 characters: %v, want it run", err)
		}
		if res.Source.Name != long {
			t.Errorf("the source is named %q, want the 200 characters sent", res.Source.Name)
		}
		if len(res.Rows) != 2 || res.Rows[0].Status != "imported" || res.Rows[1].Status != "invalid_row" {
			t.Errorf("rows with names of 200 and 201 characters: %v, want imported and invalid_row", res.Rows)
		}
		if _, err := e.svc.Import(dev, app.ID, portal.ImportRequest{SourceName: over, Users: []portal.ImportUser{{ExternalUserID: "e3", Email: "a@example.com"}}}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("an import whose source name has 201 characters: %v, want invalid_request", err)
		}
	})
}
