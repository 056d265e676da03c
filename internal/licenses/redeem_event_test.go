package licenses_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// redemptions returns the license_redeemed events of w.app, oldest first.
func redemptions(t *testing.T, w *world) []*ent.ActivityEvent {
	t.Helper()
	return must[[]*ent.ActivityEvent](t)(w.db.ActivityEvent.Query().
		Where(activityevent.Type(string(activity.LicenseRedeemed)), activityevent.ApplicationID(w.app.ID)).
		Order(ent.Asc(activityevent.FieldCreatedAt), ent.Asc(activityevent.FieldID)).All(context.Background()))
}

// TestARedemptionIsLogged: a claimed code writes one license_redeemed event naming the
// person, the application, the connection and the variant, by the person through their
// session and by the application through the person's access token; answering a code the
// connection already holds, and every refused redemption, writes none. The person reads it in
// their log and the developer in the application's.
func TestARedemptionIsLogged(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		codes := w.codes(t, w.variant(t, "Pro yearly", "YEAR"), 3)
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		annConn, bobConn := w.connect(t, ann, w.app), w.connect(t, bob, w.app)

		annAt := w.clock.Now()
		if _, err := w.svc.Redeem(as(ann), w.app.ID, codes[0]); err != nil {
			t.Fatal(err)
		}
		w.clock.Add(time.Minute)
		bobAt := w.clock.Now()
		if _, err := w.svc.Redeem(asToken(bobConn), "", codes[1]); err != nil {
			t.Fatal(err)
		}
		// Refused or answered again: nothing more is logged.
		if _, err := w.svc.Redeem(as(ann), w.app.ID, codes[0]); err != nil {
			t.Fatalf("redeeming her own code again: %v", err)
		}
		_, err := w.svc.Redeem(asToken(bobConn), "", codes[0])
		wantErr(t, err, "code_already_used")
		_, err = w.svc.Redeem(as(ann), w.app.ID, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
		wantErr(t, err, "code_not_found")
		must[*ent.AppConnection](t)(db.AppConnection.UpdateOne(annConn).SetBlocked(true).Save(context.Background()))
		_, err = w.svc.Redeem(as(ann), w.app.ID, codes[2])
		wantErr(t, err, "connection_blocked")

		evs := redemptions(t, w)
		if len(evs) != 2 {
			t.Fatalf("license_redeemed events = %d, want 2 (one per claim)", len(evs))
		}
		for i, want := range []struct {
			conn  *ent.AppConnection
			actor activityevent.Actor
			at    time.Time
		}{{annConn, activity.ByPerson, annAt}, {bobConn, activity.ByApplication, bobAt}} {
			ev := evs[i]
			if ev.UserID != want.conn.UserID || ev.ConnectionID != want.conn.ID || ev.Actor != want.actor ||
				ev.Details["name"] != "Pro yearly" || len(ev.Details) != 1 || !ev.CreatedAt.Equal(want.at) {
				t.Errorf("event %d = user %s connection %s actor %s details %v at %v; want %s %s %s {name: Pro yearly} at %v",
					i, ev.UserID, ev.ConnectionID, ev.Actor, ev.Details, ev.CreatedAt, want.conn.UserID, want.conn.ID, want.actor, want.at)
			}
		}

		p := &portal.Service{DB: db, Now: w.clock.Now}
		log := &activity.Service{DB: db, Now: w.clock.Now, Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
			return p.Authorize(ctx, appID, team.ReadActivity)
		}}
		mine := must[*activity.List](t)(log.ForPerson(as(ann), ann.ID, activity.Filter{Types: []activity.Type{activity.LicenseRedeemed}}, activity.Page{}))
		if len(mine.Events) != 1 || mine.Events[0].ConnectionID != annConn.ID || mine.Events[0].ApplicationName != w.app.Name {
			t.Fatalf("Ann's own license_redeemed events = %+v, want her one redemption in %s", mine.Events, w.app.Name)
		}
		theirs := must[*activity.List](t)(log.ForApplication(as(w.dev), w.app.ID, activity.Filter{Types: []activity.Type{activity.LicenseRedeemed}}, activity.Page{}))
		if len(theirs.Events) != 2 {
			t.Fatalf("the developer's license_redeemed events = %d, want both", len(theirs.Events))
		}
	})
}

// TestManyRedeemersOfOneCodeLogOneRedemption: of many concurrent redemptions of one code by
// different people, exactly one wins and exactly one event is written, for the winner.
func TestManyRedeemersOfOneCodeLogOneRedemption(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		code := w.codes(t, w.variant(t, "Monthly", "MONTH"), 1)[0]
		conns := w.connectMany(t, w.app, 8)
		var wg sync.WaitGroup
		won := make([]bool, len(conns))
		start := make(chan struct{})
		for i, c := range conns {
			wg.Go(func() {
				<-start
				_, err := w.svc.Redeem(asToken(c), "", code)
				won[i] = err == nil
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		var winner *ent.AppConnection
		for i, ok := range won {
			if ok {
				winners++
				winner = conns[i]
			}
		}
		evs := redemptions(t, w)
		if winners != 1 || len(evs) != 1 || evs[0].ConnectionID != winner.ID {
			t.Fatalf("winners = %d, events = %d; want one winner and its one event", winners, len(evs))
		}
	})
}
