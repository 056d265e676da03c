package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/store"
)

// TestACursorHoldingWhatNoColumnHoldsIsRefused: a cursor is opaque text the caller sends
// back, so what it decodes to never went through the checks of the query string; one whose id
// or value holds a NUL or bytes that are not UTF-8 names no row. Every list answers it 400
// invalid_request, as any cursor it did not give out, on REST (the developer's applications,
// an application's users) and GraphQL, on both databases: SQLite answered a page, and
// GraphQL took it on both.
func TestACursorHoldingWhatNoColumnHoldsIsRefused(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		dev := e.browser()
		dev.signInTo("dev@example.com")
		for _, c := range []*store.Cursor{{ID: "app_\x00"}, {ID: "app_\xff\xfe"}, {ID: "app_x", Value: "2026-01-01\x00"}} {
			text := store.CursorText(c)
			for _, path := range []string{
				"/api/developer/applications?limit=1&cursor=" + url.QueryEscape(text),
				"/api/developer/applications/" + e.app.ID + "/users?limit=1&cursor=" + url.QueryEscape(text),
			} {
				st, out := dev.api(http.MethodGet, path, nil)
				if st != http.StatusBadRequest || out["error"] != "invalid_request" {
					t.Errorf("%s with a cursor of id %q value %q: %d %v, want 400 invalid_request", strings.SplitN(path, "?", 2)[0], c.ID, c.Value, st, out)
				}
			}
			st, out := dev.api(http.MethodPost, "/graphql", map[string]any{
				"query": `query($c: Cursor) { applications(first: 1, after: $c) { totalCount } }`, "variables": map[string]any{"c": text}})
			if st != http.StatusOK || !strings.Contains(fmt.Sprint(out), "invalid_request") {
				t.Errorf("GraphQL with a cursor of id %q value %q: %d %v, want invalid_request", c.ID, c.Value, st, out)
			}
		}
	})
}
