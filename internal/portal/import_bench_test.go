package portal_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// BenchmarkImportKnownVsUnknown answers the timing half of the import oracle: does importing
// addresses that have LoginSign accounts take measurably longer or shorter than importing
// addresses nobody holds? Each iteration imports 50 known and 50 unknown addresses (the same
// rows every time, so re-runs update the pending links), in alternating order so that drift
// and caching hit both alike. It reports the median of each and their ratio (known/unknown, 1.0 = the same).
// SQLite always; PostgreSQL when LOGINSIGN_TEST_DATABASE_URL is set.
func BenchmarkImportKnownVsUnknown(b *testing.B) {
	dbs := map[string]func() *store.DB{"sqlite": func() *store.DB { return storetest.SQLite(b) }}
	if base := os.Getenv(storetest.EnvPostgres); base != "" {
		dbs["postgres"] = func() *store.DB { return storetest.Postgres(b, base) }
	}
	for name, open := range dbs {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db := open()
			id := identity.New(db, kvtest.Embedded(b), nil, identity.SessionConfig{})
			svc := &portal.Service{DB: db, RelayDomain: "relay.bench.example", Identity: id}
			owner, err := id.CreateUser(ctx, "owner@bench.example", "")
			if err != nil {
				b.Fatal(err)
			}
			dev := auth.WithSession(ctx, auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
			app, err := svc.CreateApplication(dev, portal.ApplicationInput{Name: "Bench", RedirectURIs: []string{"https://bench.example/cb"}})
			if err != nil {
				b.Fatal(err)
			}
			rows := func(prefix string) []portal.ImportUser {
				out := make([]portal.ImportUser, 50)
				for i := range out {
					out[i] = portal.ImportUser{ExternalUserID: fmt.Sprint(i), Email: fmt.Sprintf("%s-%d@bench.example", prefix, i), Name: "Some Name"}
				}
				return out
			}
			for i := range 50 {
				if _, err := id.CreateUser(ctx, fmt.Sprintf("known-%d@bench.example", i), "Real Name"); err != nil {
					b.Fatal(err)
				}
			}
			known, unknown := rows("known"), rows("unknown")
			run := func(users []portal.ImportUser) time.Duration {
				start := time.Now()
				if _, err := svc.Import(dev, app.Application.ID, portal.ImportRequest{Users: users}); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			run(known) // warm both paths once
			run(unknown)
			var k, u []time.Duration
			b.ResetTimer()
			for n := 0; b.Loop(); n++ {
				if n%2 == 0 {
					k = append(k, run(known))
					u = append(u, run(unknown))
				} else {
					u = append(u, run(unknown))
					k = append(k, run(known))
				}
			}
			median := func(d []time.Duration) float64 {
				slices.Sort(d)
				return float64(d[len(d)/2].Nanoseconds())
			}
			b.ReportMetric(median(k), "known_ns")
			b.ReportMetric(median(u), "unknown_ns")
			b.ReportMetric(median(k)/median(u), "known/unknown")
		})
	}
}
