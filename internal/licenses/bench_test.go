package licenses_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/internal/ids"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// backends runs fn on SQLite and, when LOGINSIGN_TEST_DATABASE_URL is set, on PostgreSQL.
func backends(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	if base := os.Getenv(storetest.EnvPostgres); base != "" {
		b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b, base)) })
	}
}

const batch = licenses.MaxGenerate

// BenchmarkGenerateCodes inserts 10,000-code batches two ways, side by side on each backend:
//   - GenerateCodes: the domain call (one transaction; unnest on PostgreSQL, 1,000-row
//     INSERTs on SQLite);
//   - CreateBulk (baseline): the same rows through ent's CreateBulk in chunks of 1,000 (one
//     CreateBulk of 10,000 rows exceeds both databases' parameter limits) in one transaction.
//
// Each batch is deleted again with the timer stopped, so every iteration writes into a table
// of the same size.
func BenchmarkGenerateCodes(b *testing.B) {
	backends(b, func(b *testing.B, db *store.DB) {
		w := newWorld(b, db)
		v := w.variant(b, "Bench", "")
		ctx := context.Background()
		clear := func(b *testing.B) {
			b.StopTimer()
			if _, err := db.LicenseCode.Delete().Where(licensecode.VariantID(v.ID)).Exec(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.Run("GenerateCodes", func(b *testing.B) {
			dev := as(w.dev)
			for b.Loop() {
				if _, err := w.svc.GenerateCodes(dev, w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: batch}); err != nil {
					b.Fatal(err)
				}
				clear(b)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "codes/s")
		})
		b.Run("CreateBulk", func(b *testing.B) {
			for b.Loop() {
				now := w.clock.Now()
				err := db.Tx(ctx, func(tx *ent.Tx) error {
					for start := 0; start < batch; start += 1000 {
						creates := make([]*ent.LicenseCodeCreate, 1000)
						for i := range creates {
							c := licenses.NewCode("")
							k, _ := licenses.CodeKey(c)
							creates[i] = tx.LicenseCode.Create().SetID(ids.New(ids.LicenseCode)).SetApplicationID(w.app.ID).
								SetVariantID(v.ID).SetCode(c).SetCodeKey(k).SetCreatedAt(now)
						}
						if err := tx.LicenseCode.CreateBulk(creates...).Exec(ctx); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				clear(b)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "codes/s")
		})
	})
}

// BenchmarkRedeem measures redemptions per second with 32 concurrent redeemers:
//   - contended: four people race for every code (one wins, three get code_already_used);
//   - uncontended: every redemption has a code of its own;
//   - bareUpdate (floor): only the conditional UPDATE that claims a code, no lookup.
func BenchmarkRedeem(b *testing.B) {
	backends(b, func(b *testing.B, db *store.DB) {
		w := newWorld(b, db)
		conns := w.connectMany(b, w.app, 256)
		v := w.variant(b, "Bench", "YEAR")
		ctx := context.Background()
		prepare := func(b *testing.B, n int) []string {
			b.Helper()
			var out []string
			for len(out) < n {
				out = append(out, w.codes(b, v, min(batch, n-len(out)))...)
			}
			return out
		}
		for _, mode := range []struct {
			name    string
			racers  int
			bareSQL bool
		}{{"contended", 4, false}, {"uncontended", 1, false}, {"bareUpdate", 1, true}} {
			b.Run(mode.name, func(b *testing.B) {
				codes := prepare(b, b.N/mode.racers+1)
				var keys []string
				if mode.bareSQL {
					var err error
					keys, err = db.LicenseCode.Query().Where(licensecode.VariantID(v.ID), licensecode.StateEQ(licensecode.StateUNUSED)).
						Limit(b.N + 1).Select(licensecode.FieldID).Strings(ctx)
					if err != nil {
						b.Fatal(err)
					}
				}
				var next, won atomic.Int64
				b.SetParallelism(16)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := int(next.Add(1) - 1)
						conn := conns[i%len(conns)]
						if mode.bareSQL {
							n, err := db.LicenseCode.Update().Where(licensecode.ID(keys[i%len(keys)]), licensecode.StateEQ(licensecode.StateUNUSED)).
								SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).Save(ctx)
							if err != nil {
								b.Error(err)
								return
							}
							won.Add(int64(n))
							continue
						}
						_, err := w.svc.Redeem(asToken(conn), "", codes[i/mode.racers])
						if err == nil {
							won.Add(1)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "redemptions/s")
				if want := int64((b.N + mode.racers - 1) / mode.racers); won.Load() != want && !mode.bareSQL {
					b.Fatalf("%d winners, want %d", won.Load(), want)
				}
			})
		}
	})
}
