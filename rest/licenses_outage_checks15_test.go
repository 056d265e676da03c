package rest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
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
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/rest"
)

// closedDB is a PostgreSQL database that refuses connections (a closed port).
func closedDB(t *testing.T) *store.DB {
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

// TestThePersonsLicenseRoutesAnswerOneOutageShape: GET /api/user/licenses/subscriptions and
// POST /api/user/licenses/redeem answer an outage (the database down, the redemption limits'
// Redis down) as every outage on /api/user… is answered, whichever store fails first and
// whether the caller came with the app's access token or the person's session: 503 with
// Retry-After and {"error":"temporarily_unavailable","error_description"} (README "When a
// dependency is down"). Before, an outage met by the Bearer or session check answered that
// shape, and one met by the handler {"error","message"}: two shapes for one route.
func TestThePersonsLicenseRoutesAnswerOneOutageShape(t *testing.T) {
	t.Parallel()
	svc := licenses.New(closedDB(t), nil, nil)
	api := &rest.API{Log: slog.Default(), Licenses: svc}
	session := func(ctx context.Context) context.Context {
		return auth.WithSession(ctx, auth.Session{UserID: "usr_aaaaaaaaaaaaaaaaaaaaaaaa", ID: "s"})
	}
	token := func(ctx context.Context) context.Context {
		return auth.WithToken(ctx, auth.Token{ApplicationID: "app_aaaaaaaaaaaaaaaaaaaaaaaa",
			ConnectionID: "con_aaaaaaaaaaaaaaaaaaaaaaaa", UserID: "usr_aaaaaaaaaaaaaaaaaaaaaaaa"})
	}
	check := func(t *testing.T, name string, rec *httptest.ResponseRecorder) {
		t.Helper()
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusServiceUnavailable ||
			rec.Header().Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" ||
			body["error_description"] == nil || body["message"] != nil || len(body) != 2 {
			t.Errorf("%s: %d Retry-After=%q %s; want 503 with Retry-After and {\"error\":\"temporarily_unavailable\",\"error_description\"}",
				name, rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "127.0.0.1") {
			t.Errorf("%s leaks infrastructure details: %s", name, rec.Body.String())
		}
	}
	for who, as := range map[string]func(context.Context) context.Context{"session": session, "token": token} {
		req := httptest.NewRequest(http.MethodGet, "/api/user/licenses/subscriptions?client_id=app_aaaaaaaaaaaaaaaaaaaaaaaa", nil)
		req = req.WithContext(as(req.Context()))
		rec := httptest.NewRecorder()
		api.Subscriptions(rec, req)
		check(t, "subscriptions with the database down, "+who, rec)

		req = httptest.NewRequest(http.MethodPost, "/api/user/licenses/redeem",
			strings.NewReader(`{"code":"ABCD-EFGH-JKLM-NPQR","client_id":"app_aaaaaaaaaaaaaaaaaaaaaaaa"}`))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(as(req.Context()))
		rec = httptest.NewRecorder()
		api.Redeem(rec, req)
		check(t, "redeem with the database down, "+who, rec)
	}

	t.Run("redis", func(t *testing.T) {
		k := kvtest.Real(t)
		f := kvtest.InjectFaults(t, k)
		svc := licenses.New(closedDB(t), nil, nil)
		svc.Limiter = ratelimit.New(k)
		api := &rest.API{Log: slog.Default(), Licenses: svc}
		f.Arm("", "rl:redeem", -1)
		req := httptest.NewRequest(http.MethodPost, "/api/user/licenses/redeem", strings.NewReader(`{"code":"ABCD-EFGH-JKLM-NPQR"}`))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(token(req.Context()))
		rec := httptest.NewRecorder()
		api.Redeem(rec, req)
		check(t, "redeem with the redemption limits' Redis down", rec)
		if f.Injected() == 0 {
			t.Fatal("no fault was injected")
		}
	})
}
