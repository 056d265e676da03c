package server

import (
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/licensecode"
)

func TestAnalytics(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := t.Context()
		p := e.population("Analyst", 6)
		// population: joined 2026-05-01..06 10:00 UTC, last sessions on days 1, 3, 5 at 11:00,
		// login counts 0,3,6,9,12,15, regions Germany, France, "", Germany, Germany, France.
		other := e.population("Other", 2) // another app's data never counts
		_ = other

		v := e.srv.db.LicenseVariant.Create().SetApplicationID(p.app).SetName("Pro").SetNameKey("pro").SaveX(ctx)
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		for i, c := range []struct {
			state   licensecode.State
			expires *time.Time
		}{{licensecode.StateUNUSED, nil}, {licensecode.StateUNUSED, nil}, {licensecode.StateACTIVE, nil},
			{licensecode.StateACTIVE, &future}, {licensecode.StateACTIVE, &past}, {licensecode.StateEXPIRED, &past}} {
			e.srv.db.LicenseCode.Create().SetApplicationID(p.app).SetVariantID(v.ID).SetCode(fmt.Sprint("CODE-", i)).
				SetCodeKey(fmt.Sprint("CODE", i)).SetState(c.state).SetNillableExpiresAt(c.expires).ExecX(ctx)
		}

		d := p.dev.mustGQL(`query($app: ID!) { application(id: $app) { analytics {
			signupsPerDay(from: "2026-04-30T00:00:00Z", to: "2026-05-04T00:00:00Z") { day count }
			activeUsersPerDay(from: "2026-05-01T00:00:00Z", to: "2026-05-06T00:00:00Z") { day count }
			usersPerRegion { region count }
			sessionsDistribution { label min max count }
			licensesByState { state count } } } }`, map[string]any{"app": p.app})
		a := d["application"].(map[string]any)["analytics"].(map[string]any)
		for _, tc := range []struct{ field, want string }{
			{"signupsPerDay", "[map[count:0 day:2026-04-30] map[count:1 day:2026-05-01] map[count:1 day:2026-05-02] map[count:1 day:2026-05-03]]"},
			{"activeUsersPerDay", "[map[count:1 day:2026-05-01] map[count:0 day:2026-05-02] map[count:1 day:2026-05-03] map[count:0 day:2026-05-04] map[count:1 day:2026-05-05]]"},
			{"usersPerRegion", "[map[count:3 region:Germany] map[count:2 region:France] map[count:1 region:<nil>]]"},
			{"sessionsDistribution", "[map[count:1 label:0 max:0 min:0] map[count:0 label:1 max:1 min:1] map[count:1 label:2-5 max:5 min:2] " +
				"map[count:2 label:6-10 max:10 min:6] map[count:2 label:11-50 max:50 min:11] map[count:0 label:51-100 max:100 min:51] map[count:0 label:101+ max:<nil> min:101]]"},
			{"licensesByState", "[map[count:2 state:UNUSED] map[count:2 state:ACTIVE] map[count:2 state:EXPIRED]]"},
		} {
			if got := fmt.Sprint(a[tc.field]); got != tc.want {
				t.Errorf("%s = %s\nwant %s", tc.field, got, tc.want)
			}
		}
		_ = ent.Asc
	})
}

// TestSearchIndexes: on PostgreSQL the server builds the trigram indexes of the user search at
// start, and building them again is a no-op.
func TestSearchIndexes(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		if e.srv.db.Dialect != "postgres" {
			t.Skip("trigram indexes are PostgreSQL's")
		}
		if err := e.srv.portal.EnsureSearchIndexes(t.Context()); err != nil {
			t.Fatal(err)
		}
		var n int
		err := e.srv.db.SQL.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_indexes WHERE indexname IN
			('appconnection_alias_email_trgm', 'appconnection_app_email_trgm', 'user_name_lower_trgm', 'user_global_id_trgm')`).Scan(&n)
		if err != nil || n != 4 {
			t.Errorf("%d trigram indexes (%v), want 4", n, err)
		}
	})
}
