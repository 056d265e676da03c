package oauth

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
)

// The redirect-URI healthcheck asked while the database is down (the client's lookup fails)
// is an outage, 503 with Retry-After, on every transport. Before, it answered
// apperr.New(Internal, "internal error"), which dropped the cause: a 500.
func TestTheHealthcheckAnswers503WhileTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
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
	s := &Service{DB: &store.DB{Client: ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db))), SQL: db, Dialect: dialect.Postgres},
		KV: kvtest.Embedded(t)}
	s.Config.Limits.HealthcheckPerIP = Limit{N: 10, Window: time.Minute}

	_, err = s.CheckRedirect(context.Background(), "app_aaaaaaaaaaaaaaaaaaaaaaaa", "https://app.example.com/cb")
	if !apperr.DependencyDown(err) {
		t.Fatalf("the healthcheck with the database down: %v, want an outage (apperr.DependencyDown)", err)
	}
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest(http.MethodGet, "/api/oauth/healthcheck", nil), err)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("GET /api/oauth/healthcheck with the database down: %d Retry-After=%q %s, want 503 with Retry-After",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
