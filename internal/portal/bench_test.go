package portal_test

import (
	"context"
	"os"
	"testing"
	"time"

	"entgo.io/contrib/entgql"

	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// benchConnections is the size of the benchmarked application.
const benchConnections = 1_000_000

// BenchmarkPortalMillion measures the portal's list and analytics queries on an application
// with 1,000,000 connections in PostgreSQL (LOGINSIGN_TEST_DATABASE_URL; skipped otherwise),
// each next to a bare SELECT count(*) on the same table in the same run. Every sub-benchmark
// reports x_count: its time over the bare count's (BareCount runs first).
func BenchmarkPortalMillion(b *testing.B) {
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		b.Skip("set " + storetest.EnvPostgres + " to benchmark on PostgreSQL")
	}
	ctx := context.Background()
	db := storetest.Postgres(b, base)
	now := time.Now().UTC()
	owner := db.User.Create().SetGlobalID("ZZ9999").SetEmail("owner@bench.example").SaveX(ctx)
	app := db.Application.Create().SetOwnerID(owner.ID).SetName("Bench").SetSecretHash("x").SaveX(ctx)
	other := db.Application.Create().SetOwnerID(owner.ID).SetName("Other").SetSecretHash("y").SaveX(ctx)
	variant := db.LicenseVariant.Create().SetApplicationID(app.ID).SetName("Pro").SetNameKey("pro").SaveX(ctx)

	seed := []struct {
		what string
		sql  string
		args []any
	}{
		{"users", `INSERT INTO users (id, created_at, updated_at, global_id, email, email_version, name)
			SELECT 'usr_bench' || i, $1::timestamptz, $1::timestamptz, chr(65 + (i / 10000) / 26) || chr(65 + (i / 10000) % 26) || lpad((i % 10000)::text, 4, '0'),
			       'person' || i || '@bench.example', 0, 'Person ' || i
			FROM generate_series(0, $2::int - 1) i`, []any{now, benchConnections}},
		{"connections", `INSERT INTO app_connections (id, created_at, updated_at, alias_email, app_email, is_forwarding, email_muted,
			blocked, active, login_count, last_session_at, joined_at, region, application_id, user_id)
			SELECT 'con_bench' || lpad(i::text, 7, '0'), $1::timestamptz, $1::timestamptz, 'a' || i || '@relay.bench.example',
			       CASE WHEN i % 10 = 0 THEN 'person' || i || '@bench.example' END,
			       i % 17 <> 0, i % 23 = 0, i % 50 = 0, i % 9 <> 0, (i::bigint * 7919) % 300,
			       CASE WHEN i % 5 <> 0 THEN $1::timestamptz - ((i * 31) % 365) * interval '1 day' - (i % 86400) * interval '1 second' END,
			       $1::timestamptz - (i % 730) * interval '1 day' - ((i * 13) % 86400) * interval '1 second',
			       (ARRAY['Germany','France','Spain','Italy','United States','Japan','Brazil','India'])[1 + i % 8],
			       CASE WHEN i < $2::int - 1000 THEN $3 ELSE $4 END, 'usr_bench' || i
			FROM generate_series(0, $2::int - 1) i`, []any{now, benchConnections, app.ID, other.ID}},
		// Every other person shares their profile (name) with the application: the search
		// matches a name only where the person shares it.
		{"consents", `INSERT INTO consents (id, created_at, updated_at, scopes, connection_id)
			SELECT 'cns_bench' || i, $1::timestamptz, $1::timestamptz, '["openid","email","profile"]', 'con_bench' || lpad(i::text, 7, '0')
			FROM generate_series(0, $2::int - 1, 2) i`, []any{now, benchConnections}},
		{"license codes", `INSERT INTO license_codes (id, code, code_key, state, source, created_at, expires_at, application_id, variant_id)
			SELECT 'lic_bench' || i, 'CODE-' || i, 'CODE' || i, (ARRAY['UNUSED','ACTIVE','EXPIRED'])[1 + i % 3], 'code', $1::timestamptz,
			       CASE WHEN i % 6 = 1 THEN $1::timestamptz - interval '1 day' END, $2, $3
			FROM generate_series(0, 99999) i`, []any{now, app.ID, variant.ID}},
		// What autovacuum does on a live database: statistics and the visibility map that lets
		// counts and groupings read the indexes only.
		{"vacuum", `VACUUM ANALYZE`, nil},
	}
	start := time.Now()
	for _, s := range seed {
		if _, err := db.SQL.ExecContext(ctx, s.sql, s.args...); err != nil {
			b.Fatalf("seeding %s: %v", s.what, err)
		}
	}
	svc := &portal.Service{DB: db, Now: func() time.Time { return now }}
	if err := svc.EnsureSearchIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d connections and built the search indexes in %v", benchConnections, time.Since(start).Round(time.Millisecond))

	dev := auth.WithSession(ctx, auth.Session{UserID: owner.ID})
	bareCount := func() {
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM app_connections`).Scan(&n); err != nil || n != benchConnections {
			b.Fatalf("count = %d, %v", n, err)
		}
	}
	bareCount()          // warm the cache like every sub-benchmark's first iteration does
	var baseline float64 // ns per bare count, set by the first sub-benchmark
	var deep entgql.Cursor[string]
	{
		var id string
		var joined time.Time
		if err := db.SQL.QueryRowContext(ctx, `SELECT id, joined_at FROM app_connections WHERE application_id = $1
			ORDER BY joined_at DESC, id ASC OFFSET 900000 LIMIT 1`, app.ID).Scan(&id, &joined); err != nil {
			b.Fatal(err)
		}
		deep = entgql.Cursor[string]{ID: id, Value: []any{joined}}
	}
	first := 50
	yes, no, germany := true, false, "Germany"
	monthAgo := now.AddDate(0, 0, -30)
	from, to := now.AddDate(0, 0, -90), now

	run := func(name string, fn func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := fn(); err != nil {
					b.Fatal(err)
				}
			}
			perOp := float64(b.Elapsed()) / float64(b.N)
			if name == "BareCount" {
				baseline = perOp
			}
			b.ReportMetric(perOp/baseline, "x_count")
		})
	}
	run("BareCount", func() error { bareCount(); return nil })
	page := func(p portal.UserPage, wantTotal func(int) bool) func() error {
		return func() error {
			c, err := svc.ConnectedUsers(dev, app.ID, p)
			if err == nil && (!wantTotal(c.TotalCount) || len(c.Edges) == 0) {
				b.Fatalf("total %d, %d edges", c.TotalCount, len(c.Edges))
			}
			return err
		}
	}
	all := func(n int) bool { return n == benchConnections-1000 }
	some := func(n int) bool { return n > 0 }
	run("FirstPageWithTotal", page(portal.UserPage{First: &first}, all))
	run("DeepPageByCursor", page(portal.UserPage{First: &first, After: &deep}, all))
	run("FilteredPage", page(portal.UserPage{First: &first, Filter: &portal.UserFilter{
		Active: &yes, Muted: &no, Region: &germany, JoinedAfter: &monthAgo}}, some))
	run("TextSearch", page(portal.UserPage{First: &first, Filter: &portal.UserFilter{Search: "person 12345"}}, some))
	run("TextSearchGlobalID", page(portal.UserPage{First: &first, Filter: &portal.UserFilter{Search: "BC123"}}, some))
	run("TextSearchAlias", page(portal.UserPage{First: &first, Filter: &portal.UserFilter{Search: "a123456@"}}, some))
	run("SignupsPerDay90", func() error { _, err := svc.SignupsPerDay(dev, app.ID, from, to); return err })
	run("ActiveUsersPerDay90", func() error { _, err := svc.ActiveUsersPerDay(dev, app.ID, from, to); return err })
	run("UsersPerRegion", func() error { _, err := svc.UsersPerRegion(dev, app.ID); return err })
	run("SessionsDistribution", func() error { _, err := svc.SessionsDistribution(dev, app.ID); return err })
	run("LicensesByState", func() error { _, err := svc.LicensesByState(dev, app.ID); return err })
}
