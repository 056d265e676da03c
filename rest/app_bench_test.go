package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/appapi"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/rest"
)

const benchConnections = 100000

// seedConnections makes an application with n connected people.
func seedConnections(b *testing.B, db *store.DB, n int) *ent.Application {
	b.Helper()
	ctx := context.Background()
	dev, err := db.User.Create().SetGlobalID("ZZ9999").SetEmail("dev@example.com").Save(ctx)
	if err != nil {
		b.Fatal(err)
	}
	app, err := db.Application.Create().SetOwnerID(dev.ID).SetName("Bench").SetSecretHash(ids.Hash("x")).Save(ctx)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	err = db.Tx(ctx, func(tx *ent.Tx) error {
		for start := 0; start < n; start += 1000 {
			users := make([]*ent.UserCreate, 1000)
			for i := range users {
				k := int64(start + i)
				users[i] = tx.User.Create().SetGlobalID(globalid.Format(k * 7919 % globalid.Space)).
					SetEmail(fmt.Sprintf("p%d@example.com", k)).SetName(fmt.Sprintf("Person %d", k))
			}
			us, err := tx.User.CreateBulk(users...).Save(ctx)
			if err != nil {
				return err
			}
			conns := make([]*ent.AppConnectionCreate, len(us))
			for i, u := range us {
				conns[i] = tx.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
					SetAliasEmail(ids.RandomLower(12) + "@relay.example.com").SetJoinedAt(now).SetLoginCount(i).SetLastSessionAt(now)
			}
			if err := tx.AppConnection.CreateBulk(conns...).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return app
}

// discard is a ResponseWriter that counts and drops the body.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// BenchmarkCurrentLogins lists 100,000 connections through GET /api/applications/{appId}/users
// (streamed JSON), against bareSelect: the same rows read by one plain SELECT, no JSON.
func BenchmarkCurrentLogins(b *testing.B) {
	run := func(b *testing.B, db *store.DB) {
		app := seedConnections(b, db, benchConnections)
		api := &rest.API{AppAPI: &appapi.Service{DB: db}}
		ctx := auth.WithClient(context.Background(), auth.Client{ApplicationID: app.ID})
		b.Run("handler", func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequestWithContext(ctx, "GET", "/api/applications/"+app.ID+"/users", nil)
				r.SetPathValue("appId", app.ID)
				w := &discard{h: http.Header{}}
				api.CurrentLogins(w, r)
				if w.n < benchConnections*100 {
					b.Fatalf("wrote %d bytes", w.n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/listing")
		})
		b.Run("bareSelect", func(b *testing.B) {
			q := `SELECT c.id, u.global_id, c.app_email, c.alias_email, u.name, c.login_count, c.last_session_at, c.joined_at, c.active
FROM app_connections c JOIN users u ON c.user_id = u.id WHERE c.application_id = ` + map[string]string{"sqlite3": "?", "postgres": "$1"}[db.Dialect] + ` ORDER BY c.id`
			for b.Loop() {
				rows, err := db.SQL.QueryContext(ctx, q, app.ID)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var id, gid, alias string
					var appEmail, name *string
					var count int
					var last *time.Time
					var joined time.Time
					var active bool
					if err := rows.Scan(&id, &gid, &appEmail, &alias, &name, &count, &last, &joined, &active); err != nil {
						b.Fatal(err)
					}
					n++
				}
				rows.Close()
				if n != benchConnections {
					b.Fatalf("read %d rows", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/listing")
		})
	}
	b.Run("sqlite", func(b *testing.B) { run(b, storetest.SQLite(b)) })
	if base := os.Getenv(storetest.EnvPostgres); base != "" {
		b.Run("postgres", func(b *testing.B) { run(b, storetest.Postgres(b, base)) })
	}
}
