package oauth_test

import (
	"errors"
	"sync"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// TestLoadsOfOneFlowAtOnceAnswerTheClientOnce: with consent remembered, each load of the
// consent page issues a code and then ends the flow; loads at once (a double click, a
// reload) all issued codes, and each was sent to the client: one authorization request,
// several answers. Now only the load that ends the flow answers; the others are Gone, as if
// the flow had expired. Before, 8 of 8 loads answered.
func TestLoadsOfOneFlowAtOnceAnswerTheClientOnce(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		u := e.person(t)
		start := func() (string, *oauth.Flow) {
			t.Helper()
			id, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, cb, "")), "browser-1")
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.svc.BrowserFlow(ctx, id, "browser-1")
			if err != nil {
				t.Fatal(err)
			}
			return id, f
		}
		_, f := start()
		if _, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, ""); err != nil {
			t.Fatal(err)
		}

		id, f := start()
		const loads = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		answered, gone := 0, 0
		ready := make(chan struct{})
		for range loads {
			wg.Go(func() {
				n, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now())
				if err != nil || n.Answer == nil {
					t.Errorf("Continue: %+v, %v; want a code for the client (consent is remembered)", n, err)
					return
				}
				<-ready
				err = e.svc.EndFlow(ctx, id)
				mu.Lock()
				defer mu.Unlock()
				var ae *apperr.Error
				switch {
				case err == nil:
					answered++
				case errors.As(err, &ae) && ae.Code == apperr.Gone:
					gone++
				default:
					t.Errorf("EndFlow: %v, want nil or Gone", err)
				}
			})
		}
		close(ready)
		wg.Wait()
		if answered != 1 || gone != loads-1 {
			t.Fatalf("%d of %d loads answered the client (%d found the flow gone), want 1", answered, loads, gone)
		}
	})
}
