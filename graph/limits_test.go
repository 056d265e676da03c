package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestPerPrincipalLimit: each operation's complexity is charged to its principal (the
// signed-in person, else the address); one principal's spending does not limit another.
func TestPerPrincipalLimit(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			id := identity.New(db, k, nil, identity.SessionConfig{})
			p := &portal.Service{DB: db}
			h := graph.Endpoint(graph.NewHandler(&graph.Resolver{Client: db.Client, Identity: id, Portal: p}, slog.New(slog.DiscardHandler)),
				graph.Limits{Limiter: ratelimit.New(k), PerPrincipal: ratelimit.Rule{Name: "graphql-test", N: 100, Window: time.Minute}})
			ctx := context.Background()
			ann, err := id.CreateUser(ctx, "ann@example.com", "Ann")
			if err != nil {
				t.Fatal(err)
			}
			bob, err := id.CreateUser(ctx, "bob@example.com", "Bob")
			if err != nil {
				t.Fatal(err)
			}
			ask := func(userID, ip string) map[string]any {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { id name } }"}`))
				req.Header.Set("Content-Type", "application/json")
				c := auth.WithClientIP(req.Context(), ip)
				if userID != "" {
					c = auth.WithSession(c, auth.Session{UserID: userID, ID: "t"})
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req.WithContext(c))
				var out map[string]any
				json.Unmarshal(rec.Body.Bytes(), &out)
				return out
			}
			limited := func(out map[string]any) bool {
				errs, _ := out["errors"].([]any)
				if len(errs) == 0 {
					return false
				}
				ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
				return ext["code"] == "rate_limited" && ext["retryAfter"].(float64) >= 1
			}
			// { viewer { id name } } costs 20 (a root query field) + 2 = 22: the 5th is over 100.
			for i := range 4 {
				if out := ask(ann.ID, "192.0.2.1"); out["data"] == nil || limited(out) {
					t.Fatalf("operation %d = %v", i+1, out)
				}
			}
			if out := ask(ann.ID, "192.0.2.2"); !limited(out) {
				t.Fatalf("5th operation of one person from another address = %v, want rate_limited", out)
			}
			if out := ask(bob.ID, "192.0.2.1"); limited(out) {
				t.Fatalf("another person from the same address = %v", out)
			}
			for range 4 {
				ask("", "198.51.100.1")
			}
			if out := ask("", "198.51.100.1"); !limited(out) {
				t.Fatalf("5th anonymous operation from one address = %v, want rate_limited", out)
			}
		})
	})
}
