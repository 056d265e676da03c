package oauth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/internal/oauth"
)

// TestAConsentAnsweredAsTheDeletionBeginsConnectsNobody: the application's deletion begins
// (portal.DeleteApplication marks it) between the consent answer's reading of the application
// (Decide → FlowApplication, which finds it not yet marked) and the approval's transaction,
// which never reads it again: the person is not connected to the application being deleted,
// and no code goes to it. A connection made then is ended by the deletion's batches only if
// they still run; after a deletion that failed half-way it stays, listed to the team
// (ReadUsers, ExportUsers stay allowed while deleting) with the address the person chose to
// share. The interceptor marks the application right after Decide's read, as a deletion
// committed at that moment would.
func TestAConsentAnsweredAsTheDeletionBeginsConnectsNobody(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		u := e.person(t)
		f := e.startFlow(t, authzQuery(app.ID, cb, verifier()), "browser-d")

		var armed atomic.Bool
		e.db.Application.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				v, err := next.Query(ctx, q)
				if armed.CompareAndSwap(true, false) {
					// Outside any transaction: Decide reads the application before Approve's.
					if err := e.db.Application.UpdateOneID(app.ID).SetDeletingSince(time.Now()).Exec(context.Background()); err != nil {
						t.Errorf("marking the application: %v", err)
					}
				}
				return v, err
			})
		}))
		armed.Store(true)
		n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, "")
		if armed.Load() {
			t.Fatal("the answer read no application")
		}
		if err == nil && n.Answer != nil && n.Answer.Params.Get("code") != "" {
			t.Errorf("a consent answered as the deletion began: answer %v, want no code", n.Answer.Params)
		}
		if c, _ := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).Count(context.Background()); c != 0 {
			t.Errorf("the person was connected to the application being deleted (%d connection), want none", c)
		}
	})
}
