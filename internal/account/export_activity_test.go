package account_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/dataexport"
	"loginsign/internal/httpx"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestAnExportSaysWhenItsActivityIsCut: an activity log longer than a document holds
// (dataexport.Service.MaxActivity) is exported as its newest events with activityComplete
// false; one that fits whole says true. Before, the export stopped at 20,000 events and
// passed them for the whole log.
func TestAnExportSaysWhenItsActivityIsCut(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		for i := range 5 {
			if err := db.Tx(ctx, func(tx *ent.Tx) error {
				return activity.Record(ctx, tx, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson,
					UserID: e.person.ID, At: now.Add(time.Duration(i-10) * time.Minute)})
			}); err != nil {
				t.Fatal(err)
			}
		}
		clock := func() time.Time { return now }
		passkeys, err := passkey.New(db, e.kv, "https://login.example.com", clock)
		if err != nil {
			t.Fatal(err)
		}
		svc := &dataexport.Service{DB: db, Identity: e.identity, Account: e.svc, MFA: mfa.New(db, e.kv, sealer(t, "totp secrets"), clock),
			Passkeys: passkeys, Activity: &activity.Service{DB: db, Now: clock}, Team: &team.Service{DB: db, Now: clock},
			Mail: e.svc.Mail, Limiter: ratelimit.New(e.kv), MaxActivity: 3, Now: clock}

		doc, err := svc.Export(as(e.person))
		if err != nil {
			t.Fatal(err)
		}
		if doc.ActivityComplete || len(doc.Activity) != 3 {
			t.Fatalf("a log of 5 events exported into a document of 3: %d events, complete %v; want 3, false", len(doc.Activity), doc.ActivityComplete)
		}
		if got, newest := doc.Activity[0].At, httpx.Time(now.Add(-6*time.Minute)); got != newest {
			t.Errorf("the first event exported is of %s, want the newest, of %s", got, newest)
		}

		svc.MaxActivity = 100
		doc, err = svc.Export(as(e.person))
		if err != nil {
			t.Fatal(err)
		}
		if !doc.ActivityComplete || len(doc.Activity) < 5 {
			t.Fatalf("a log that fits: %d events, complete %v; want them all, true", len(doc.Activity), doc.ActivityComplete)
		}
	})
}
