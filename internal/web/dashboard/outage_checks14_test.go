package dashboard_test

import (
	"database/sql"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/store"
	"loginsign/internal/web/dashboard"
	"loginsign/internal/web/page"
	"loginsign/internal/web/portalui"
	"loginsign/internal/web/static"
)

// downDB is a PostgreSQL database that refuses connections (a closed port).
func downDB(t *testing.T) *store.DB {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db, err := sql.Open("pgx", "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &store.DB{Client: ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db))), SQL: db, Dialect: dialect.Postgres}
}

// The dashboard and the developer portal of a signed-in person whose account cannot be read
// because the database is down answer the outage page, 503 with Retry-After, never a 500.
// Before, both answered 500 "internal error" (text/plain).
func TestTheDashboardAndPortalAnswer503WhileTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	id := &identity.Service{DB: downDB(t)}
	r := page.New(static.Assets())
	for path, h := range map[string]http.Handler{"/dashboard": dashboard.New(id, r), "/portal": portalui.New(id, nil, r)} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req = req.WithContext(auth.WithSession(req.Context(), auth.Session{UserID: "usr_aaaaaaaaaaaaaaaaaaaaaaaa", ID: "s"}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
			!strings.Contains(body, "temporarily unavailable") || strings.Contains(body, "127.0.0.1") {
			t.Errorf("%s with the database down: %d Retry-After=%q %s; want 503 with Retry-After and the outage page",
				path, rec.Code, rec.Header().Get("Retry-After"), body)
		}
	}
}
