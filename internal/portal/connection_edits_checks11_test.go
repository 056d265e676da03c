package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
)

// TestADeveloperCannotFloodAPersonsActivityLogWithConnectionEdits: a developer's change of a
// connection (isForwarding, appEmail) writes connection_edited into the person's own activity
// log. Sending the same values again writes nothing, but alternating them wrote an event every
// time, bounded only by the developer's budget for all their changes (team.DefaultWrites,
// 1,000 an hour): 24,000 events a day in one person's log, more than their data export holds,
// pushing their real events (sign-ins, address changes) out of it. Past
// portal.DefaultConnectionEdits changes of one connection in its window a change answers
// rate_limited and changes nothing; the same values again still answer; another person's
// connection is not held up.
func TestADeveloperCannotFloodAPersonsActivityLogWithConnectionEdits(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		dev := e.developer(t)
		shop := e.app(t, dev)
		ann, bob := e.person(t), e.person(t)
		annConn, bobConn := e.connect(t, ann, shop, ""), e.connect(t, bob, shop, "")
		edits := func(userID string) int {
			t.Helper()
			return e.db.ActivityEvent.Query().Where(activityevent.UserID(userID),
				activityevent.Type(string(activity.ConnectionEdited))).CountX(ctx)
		}

		const budget = 60 // portal.DefaultConnectionEdits
		const tries = 200
		var refused error
		answered := 0
		for i := 0; i < tries && refused == nil; i++ {
			_, refused = e.svc.UpdateConnection(dev, shop.ID, annConn.ID, portal.ConnectionPatch{IsForwarding: ptr(i%2 == 1)})
			if refused == nil {
				answered++
			}
		}
		if refused == nil {
			t.Fatalf("%d alternating changes of one connection were all answered, and wrote %d events into the person's activity log",
				tries, edits(ann.ID))
		}
		if !apperr.Is(refused, apperr.RateLimited) {
			t.Fatalf("change %d: %v, want rate_limited", answered+1, refused)
		}
		if n := edits(ann.ID); answered != budget || n != budget {
			t.Errorf("%d changes answered and %d connection_edited events in the person's log, want %d and %d", answered, n, budget, budget)
		}
		// The refused change (forwarding on again) changed nothing.
		if e.db.AppConnection.GetX(ctx, annConn.ID).IsForwarding != (budget%2 == 0) {
			t.Errorf("the refused change was written")
		}
		// The same values again still answer, and record nothing.
		if _, err := e.svc.UpdateConnection(dev, shop.ID, annConn.ID, portal.ConnectionPatch{IsForwarding: ptr(budget%2 == 0)}); err != nil {
			t.Errorf("the connection's own values again, past the budget: %v", err)
		}
		if n := edits(ann.ID); n != budget {
			t.Errorf("%d events after a change of nothing, want %d", n, budget)
		}
		// Another person's connection has a budget of its own.
		if _, err := e.svc.UpdateConnection(dev, shop.ID, bobConn.ID, portal.ConnectionPatch{IsForwarding: ptr(false)}); err != nil {
			t.Errorf("another person's connection: %v", err)
		}
	})
}
