package oauth_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/internal/account"
	"loginsign/internal/auth"
	"loginsign/internal/oauth"
)

// An authorization that goes straight back on a remembered consent (Continue: ConsentNeeded,
// then Approve with no address chosen) must find that consent again inside the transaction
// that uses it. Otherwise a removal of the application by the person between the two steps
// was undone: Approve found no connection and made a new one, with a fresh consent, without
// any consent page; the application's page in the person's browser can fire silent renewals
// (prompt=none) at will to land in that window.

// TestARememberedConsentWithdrawnMeanwhileIsNotRenewed runs the interleaving step by step:
// the check of a running authorization, the person's removal (and, in the second case, a new
// consent to less), then the approval that authorization makes.
func TestARememberedConsentWithdrawnMeanwhileIsNotRenewed(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		acc := &account.Service{DB: e.db, KV: e.kv, Identity: e.svc.Identity, Now: e.clock.Now}
		for _, again := range []string{"", "openid"} { // removed; removed, then consented to less
			app, _ := e.client(t, cb)
			u := e.person(t)
			e.code(t, u, authzQuery(app.ID, cb, "", "scope", "openid profile"))
			conn := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).OnlyX(ctx)

			// A silent renewal of the application's page: the consent is remembered.
			req := e.authorize(t, authzQuery(app.ID, cb, "", "prompt", "none", "scope", "openid profile"))
			if need, err := e.svc.ConsentNeeded(ctx, req, u.ID); err != nil || need {
				t.Fatalf("ConsentNeeded = %v, %v; want the remembered consent", need, err)
			}
			person := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "s1", SignedInAt: e.clock.Now()})
			if err := acc.RemoveConnection(person, conn.ID); err != nil {
				t.Fatal(err)
			}
			if again != "" {
				e.code(t, u, authzQuery(app.ID, cb, "", "scope", again))
			}
			// The renewal goes on as Continue does, with the consent it read.
			code, err := e.svc.Approve(ctx, req, u.ID, "", e.clock.Now())
			n := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).CountX(ctx)
			scopes := []string{}
			if c, err := e.db.Consent.Query().Where(consent.HasConnectionWith(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID))).Only(ctx); err == nil {
				scopes = c.Scopes
			}
			switch {
			case again == "" && (err == nil || code != "" || n != 0):
				t.Errorf("after the person removed the application, a remembered-consent approval answered code=%q err=%v and left %d connection(s); "+
					"want no code and no connection", code, err, n)
			case again != "" && (err == nil || code != "" || !slices.Equal(scopes, []string{"openid"})):
				t.Errorf("after the person consented again to openid only, a remembered-consent approval of openid profile answered code=%q err=%v, consent %v; "+
					"want no code and the consent unchanged", code, err, scopes)
			}
		}
	})
}

// TestSilentRenewalsDuringAWithdrawalLeaveNoConnection is the same race as it happens: many
// authorizations on the remembered consent (Continue, as prompt=none renewals run) while the
// person removes the application. Once the removal has returned and every renewal has
// finished, no connection may exist: none of them showed a consent page. Whether a renewal
// falls into the window varies from run to run; the step-by-step test above always does.
func TestSilentRenewalsDuringAWithdrawalLeaveNoConnection(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		acc := &account.Service{DB: e.db, KV: e.kv, Identity: e.svc.Identity, Now: e.clock.Now}
		for round := 0; round < 5; round++ {
			app, _ := e.client(t, cb)
			u := e.person(t)
			e.code(t, u, authzQuery(app.ID, cb, ""))
			conn := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).OnlyX(ctx)
			person := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "s1", SignedInAt: e.clock.Now()})

			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			answers := map[string]int{}
			for range 16 {
				wg.Go(func() {
					<-start
					for range 4 {
						req, _, err := e.svc.Authorize(e.ctx(), authzQuery(app.ID, cb, "", "prompt", "none"))
						if err != nil {
							continue
						}
						next, err := e.svc.Continue(context.Background(), &oauth.Flow{Request: *req}, u.ID, e.clock.Now())
						mu.Lock()
						switch {
						case err != nil:
							answers["error: "+err.Error()]++
						case redirectTo(next) != "":
							answers["redirect"]++
						default:
							answers["other"]++
						}
						mu.Unlock()
					}
				})
			}
			close(start)
			if err := acc.RemoveConnection(person, conn.ID); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			n := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).CountX(ctx)
			c := e.db.Consent.Query().Where(consent.HasConnectionWith(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID))).CountX(ctx)
			if n != 0 || c != 0 {
				t.Fatalf("round %d: the person removed the application, yet %d connection(s) and %d consent(s) exist again, "+
					"made by authorizations that never showed a consent page", round, n, c)
			}
			if answers["redirect"] != 64 { // a code, or consent_required once the consent is gone
				t.Fatalf("round %d: renewals answered %v, want 64 redirects", round, answers)
			}
		}
	})
}
