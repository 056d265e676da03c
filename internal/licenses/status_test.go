package licenses_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/internal/activity"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

func TestSyncStatus(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		ctx := asClient(w.app)
		sync := func(in licenses.StatusInput) *licenses.StatusResult {
			t.Helper()
			r, err := w.svc.SyncStatus(ctx, w.app.ID, ann.GlobalID, in)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		t0 := w.clock.Now()

		// grant: the variant is created on demand, the license is new.
		g := sync(licenses.StatusInput{Status: " premium ", VariantName: "Premium", Duration: "MONTH"})
		if g.Action != "granted" || g.ConnectionID != conn.ID || g.Status != "PREMIUM" || g.Reused ||
			g.Variant.Name != "Premium" || g.Variant.Duration != licensevariant.DurationMONTH ||
			g.License.State != licensecode.StateACTIVE || g.License.Source != licensecode.SourceStatus ||
			*g.License.LinkedConnectionID != conn.ID || !g.License.ExpiresAt.Equal(t0.AddDate(0, 1, 0)) {
			t.Fatalf("grant = %+v, license %+v", g, g.License)
		}

		// update: the same variant (matched case-insensitively) and license, expiry refreshed.
		w.clock.Add(time.Hour)
		u := sync(licenses.StatusInput{Status: "PREMIUM", VariantName: "PREMIUM", Duration: "YEAR"})
		if u.Action != "granted" || !u.Reused || u.License.ID != g.License.ID || u.Variant.ID != g.Variant.ID ||
			!u.License.ExpiresAt.Equal(w.clock.Now().AddDate(1, 0, 0)) {
			t.Fatalf("update = %+v, license %+v", u, u.License)
		}
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		if e := sync(licenses.StatusInput{Status: "premium", ExpiresAt: &at}); !e.Reused || !e.License.ExpiresAt.Equal(at) {
			t.Fatalf("explicit expiresAt = %+v", e.License)
		}
		// LIFETIME given (without a duration the plan runs for its variant's, MONTH:
		// TestAPlanSentWithoutADurationRunsForItsVariantsDuration).
		if l := sync(licenses.StatusInput{Status: "premium", Duration: "LIFETIME"}); !l.Reused || l.License.ExpiresAt != nil {
			t.Fatalf("LIFETIME = %+v", l.License)
		}
		// idempotent: the same request again changes nothing.
		again := sync(licenses.StatusInput{Status: "premium", Duration: "LIFETIME"})
		if again.License.ID != g.License.ID || again.License.ExpiresAt != nil {
			t.Fatalf("again = %+v", again.License)
		}
		if n := must[int](t)(db.LicenseVariant.Query().Count(context.Background())); n != 1 {
			t.Fatalf("%d variants, want 1", n)
		}
		// another plan is independent.
		pro := sync(licenses.StatusInput{Status: "PRO"})
		if pro.License.ID == g.License.ID || pro.Variant.Name != "PRO" || pro.Variant.Duration != licensevariant.DurationLIFETIME {
			t.Fatalf("second plan = %+v", pro)
		}

		// revoke ends every synced license in effect, and only those.
		v := w.variant(t, "Bought", "")
		bought := w.codes(t, v, 1)[0]
		if _, err := w.svc.Redeem(asToken(conn), "", bought); err != nil {
			t.Fatal(err)
		}
		r := sync(licenses.StatusInput{Revoke: true})
		if r.Action != "revoked" || r.Revoked != 2 || r.ConnectionID != conn.ID {
			t.Fatalf("revoke = %+v", r)
		}
		for _, c := range must[[]*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).All(context.Background())) {
			want := licensecode.StateEXPIRED
			if c.Source == licensecode.SourceCode {
				want = licensecode.StateACTIVE
			}
			if licenses.EffectiveState(c, w.clock.Now()) != want {
				t.Fatalf("after revoke %s (%s) is %s", c.Code, c.Source, c.State)
			}
		}
		if r := sync(licenses.StatusInput{Revoke: true}); r.Action != "unchanged" {
			t.Fatalf("second revoke = %+v", r)
		}
		for _, s := range []string{"FREE", "none", "Inactive", "REVOKED"} {
			sync(licenses.StatusInput{Status: "TEAM"})
			if r := sync(licenses.StatusInput{Status: s}); r.Action != "revoked" {
				t.Fatalf("status %s = %+v", s, r)
			}
		}
		if r := sync(licenses.StatusInput{Status: "FREE"}); r.Action != "unchanged" {
			t.Fatalf("FREE with nothing active = %+v", r)
		}
		// a synced license that has ended (past its expiry, or revoked) is made active again by
		// the next grant of its variant, from now: no new row per grant.
		w.clock.Add(time.Hour)
		m := sync(licenses.StatusInput{Status: "MONTHLY", Duration: "MONTH"})
		w.clock.Add(40 * 24 * time.Hour)
		m2 := sync(licenses.StatusInput{Status: "MONTHLY", Duration: "MONTH"})
		if !m2.Reused || m2.License.ID != m.License.ID || m2.License.State != licensecode.StateACTIVE ||
			!m2.License.ActivatedAt.Equal(w.clock.Now()) || !m2.License.ExpiresAt.Equal(w.clock.Now().AddDate(0, 1, 0)) {
			t.Fatalf("grant after expiry = %+v, license %+v; want %s active again from now", m2, m2.License, m.License.ID)
		}
		sync(licenses.StatusInput{Status: "FREE"})
		if m3 := sync(licenses.StatusInput{Status: "MONTHLY", Duration: "MONTH"}); !m3.Reused || m3.License.ID != m.License.ID ||
			licenses.EffectiveState(m3.License, w.clock.Now()) != licensecode.StateACTIVE {
			t.Fatalf("grant after revoke = %+v, license %+v; want %s active again", m3, m3.License, m.License.ID)
		}
		t.Run("globalId is accepted in any case", func(t *testing.T) {
			r, err := w.svc.SyncStatus(ctx, w.app.ID, strings.ToLower(ann.GlobalID), licenses.StatusInput{Status: "PRO"})
			if err != nil || r.Action != "granted" {
				t.Fatalf("%+v, %v", r, err)
			}
		})

		past := w.clock.Now().Add(-time.Second)
		// 9999-12-31T23:59:59-23:59, which is 10000-01-01T23:58:59Z.
		pastYear9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(23*3600+59*60)))
		stranger := w.person(t, "stranger")
		for _, tt := range []struct {
			name     string
			ctx      context.Context
			globalID string
			in       licenses.StatusInput
			want     string
		}{
			{"neither status nor revoke", ctx, ann.GlobalID, licenses.StatusInput{}, "invalid_request"},
			{"bad duration", ctx, ann.GlobalID, licenses.StatusInput{Status: "PRO", Duration: "WEEK"}, "invalid_request"},
			{"expiresAt in the past", ctx, ann.GlobalID, licenses.StatusInput{Status: "PRO", ExpiresAt: &past}, "invalid_request"},
			{"expiresAt past the year 9999 in UTC", ctx, ann.GlobalID, licenses.StatusInput{Status: "PRO", ExpiresAt: &pastYear9999}, "invalid_request"},
			{"expiresAt past the year 9999 in UTC, with revoke", ctx, ann.GlobalID, licenses.StatusInput{Revoke: true, ExpiresAt: &pastYear9999}, "invalid_request"},
			{"status too long", ctx, ann.GlobalID, licenses.StatusInput{Status: strings.Repeat("S", 101)}, "invalid_request"},
			{"unknown globalId", ctx, "ZZ9999", licenses.StatusInput{Status: "PRO"}, "not_found"},
			{"malformed globalId", ctx, "12AB", licenses.StatusInput{Status: "PRO"}, "not_found"},
			{"person without a connection", ctx, stranger.GlobalID, licenses.StatusInput{Status: "PRO"}, "not_found"},
			{"revoke of a person without a connection", ctx, stranger.GlobalID, licenses.StatusInput{Revoke: true}, "not_found"},
			{"another application's credentials", asClient(w.rivalApp), ann.GlobalID, licenses.StatusInput{Status: "PRO"}, "forbidden"},
			{"no credentials", context.Background(), ann.GlobalID, licenses.StatusInput{Status: "PRO"}, "unauthorized"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := must[int](t)(db.LicenseCode.Query().Count(context.Background()))
				_, err := w.svc.SyncStatus(tt.ctx, w.app.ID, tt.globalID, tt.in)
				wantErr(t, err, tt.want)
				if after := must[int](t)(db.LicenseCode.Query().Count(context.Background())); after != before {
					t.Fatalf("a refused request changed the codes: %d → %d", before, after)
				}
			})
		}
	})
}

// TestSyncStatusConcurrent: the same grant sent twenty times at once leaves one license in
// effect, and twenty first grants of a new plan to different people create one variant.
func TestSyncStatusConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		people := w.connectMany(t, w.app, 20)
		errs := make(chan error, 40)
		for range 20 {
			go func() {
				_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "GOLD"})
				errs <- err
			}()
		}
		for _, p := range people {
			go func() {
				u := must[*ent.User](t)(db.User.Get(context.Background(), p.UserID))
				_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, u.GlobalID, licenses.StatusInput{Status: "SILVER"})
				errs <- err
			}()
		}
		for range 40 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		n := must[int](t)(db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID), licensecode.StateEQ(licensecode.StateACTIVE)).Count(context.Background()))
		if n != 1 {
			t.Fatalf("%d GOLD licenses in effect, want 1", n)
		}
		if v := must[int](t)(db.LicenseVariant.Query().Count(context.Background())); v != 2 {
			t.Fatalf("%d variants, want 2 (GOLD, SILVER)", v)
		}
	})
}

// TestSyncStatusVariantsAreBounded: the status sync creates variants within the same
// MaxVariants as CreateVariant. With the application at the bound, a grant naming a new
// variant is refused (invalid_request, the answer of CreateVariant) and creates nothing; a
// grant naming an existing variant still works.
func TestSyncStatusVariantsAreBounded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		plans := make([]*ent.LicenseVariantCreate, licenses.MaxVariants)
		for i := range plans {
			name := fmt.Sprintf("Plan %d", i)
			plans[i] = db.LicenseVariant.Create().SetApplicationID(w.app.ID).SetName(name).SetNameKey(strings.ToLower(name)).
				SetDuration(licensevariant.DurationLIFETIME)
		}
		if _, err := db.LicenseVariant.CreateBulk(plans...).Save(ctx); err != nil {
			t.Fatal(err)
		}

		for _, in := range []licenses.StatusInput{{Status: "PLATINUM"}, {Status: "PRO", VariantName: "Plan 100", Duration: "MONTH"}} {
			_, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, in)
			wantErr(t, err, "invalid_request")
		}
		if n := must[int](t)(db.LicenseVariant.Query().Where(licensevariant.ApplicationID(w.app.ID)).Count(ctx)); n != licenses.MaxVariants {
			t.Fatalf("%d variants after refused syncs, want %d", n, licenses.MaxVariants)
		}
		if n := must[int](t)(db.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).Count(ctx)); n != 0 {
			t.Fatalf("refused syncs left %d licenses", n)
		}

		// An existing variant (named in any case) is still granted.
		r, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "plan 7"})
		if err != nil || r.Action != licenses.ActionGranted || r.Variant.Name != "Plan 7" || r.License == nil {
			t.Fatalf("grant of an existing variant = %+v, %v", r, err)
		}
		// Another application's bound is its own.
		rival := w.connect(t, ann, w.rivalApp)
		if r, err := w.svc.SyncStatus(asClient(w.rivalApp), w.rivalApp.ID, ann.GlobalID, licenses.StatusInput{Status: "PLATINUM"}); err != nil ||
			r.ConnectionID != rival.ID || r.Variant.Name != "PLATINUM" {
			t.Fatalf("another application's first variant = %+v, %v", r, err)
		}
	})
}

// TestSyncStatusRecordsOnlyChanges: a status sync that grants, revokes or moves an expiry writes
// exactly one license_action event for the person; one that changes nothing (the same grant
// again, a revoke with nothing in effect) writes none, so an application's backend cannot push
// the person's real events out of their log.
func TestSyncStatusRecordsOnlyChanges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		seen := map[string]bool{}
		// written returns the actions of the events written since the last call.
		written := func() []string {
			t.Helper()
			evs := must[[]*ent.ActivityEvent](t)(db.ActivityEvent.Query().Where(activityevent.Type(string(activity.LicenseAction)),
				activityevent.ConnectionID(conn.ID)).All(context.Background()))
			out := []string{}
			for _, ev := range evs {
				if !seen[ev.ID] {
					seen[ev.ID] = true
					out = append(out, ev.Details["action"])
				}
			}
			return out
		}
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		later := at.Add(time.Hour)
		for _, tt := range []struct {
			name string
			in   licenses.StatusInput
			want []string // the events written
		}{
			{"a revoke with nothing in effect", licenses.StatusInput{Revoke: true}, nil},
			{"a first grant", licenses.StatusInput{Status: "PRO"}, []string{"status_granted"}},
			{"the same grant again", licenses.StatusInput{Status: "PRO"}, nil},
			{"the same grant in another case", licenses.StatusInput{Status: "pro", VariantName: "Pro"}, nil},
			{"an expiry set", licenses.StatusInput{Status: "PRO", ExpiresAt: &at}, []string{"status_granted"}},
			{"the same expiry again", licenses.StatusInput{Status: "PRO", ExpiresAt: &at}, nil},
			{"the expiry moved", licenses.StatusInput{Status: "PRO", ExpiresAt: &later}, []string{"status_granted"}},
			{"the expiry removed", licenses.StatusInput{Status: "PRO"}, []string{"status_granted"}},
			{"a revoke", licenses.StatusInput{Revoke: true}, []string{"status_revoked"}},
			{"the revoke again", licenses.StatusInput{Revoke: true}, nil},
			{"FREE with nothing in effect", licenses.StatusInput{Status: "FREE"}, nil},
		} {
			r, err := w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, tt.in)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := written(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s (%s) wrote events %v, want %v", tt.name, r.Action, got, tt.want)
			}
		}
	})
}
