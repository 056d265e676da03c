package oauth_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/internal/oauth"
)

// The records of a browser's sign-in (identity's known browser, oauth's budget of sign-in
// mails) live 90 days, longer than any session, and the embedded store evicts the keys that
// expire soonest first: an account signed in to from a new browser every few minutes (private
// windows, new networks) for days wrote two records a sign-in without bound, and filled the
// store until sessions were evicted. An account knows at most identity.MaxKnownBrowsers
// browsers, the ones it signed in from last; the others are forgotten with their records.
// maxKnown is identity.MaxKnownBrowsers.
const maxKnown = 20

func TestAnAccountKnowsOnlyItsMostRecentBrowsers21(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := context.Background()
		u := e.person(t)
		usr, err := e.svc.Identity.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		browser := func(i int) string { return fmt.Sprintf("lsbr_%040d", i) }
		signIn := func(b string) {
			t.Helper()
			if err := e.svc.RememberBrowser(ctx, b, usr); err != nil {
				t.Fatal(err)
			}
		}
		// The person's own browser signs in first, then again after others did.
		mine := "lsbr_" + fmt.Sprintf("%040s", "mine")
		signIn(mine)
		total := maxKnown + 10
		for i := range total {
			if i == maxKnown-2 {
				signIn(mine)
			}
			signIn(browser(i))
		}
		known, records := 0, 0
		for i := range total {
			ok, err := e.svc.KnownBrowser(ctx, browser(i), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			n, err := e.svc.KV.Exists(ctx, oauth.KnownBrowserKey(browser(i), usr.Email)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				known++
			}
			records += int(n)
			recent := i >= total-(maxKnown-1)
			if ok != recent || (n == 1) != recent {
				t.Errorf("browser %d of %d: known %v, mail budget record %d; want only the %d signed in from last", i, total, ok, n, maxKnown)
			}
		}
		if ok, err := e.svc.KnownBrowser(ctx, mine, u.ID); err != nil || !ok {
			t.Fatalf("the person's browser, signed in again since, is no longer known (%v, %v)", ok, err)
		}
		if known+1 > maxKnown || records+1 > maxKnown {
			t.Fatalf("the account knows %d browsers and keeps %d mail budget records, more than %d", known+1, records+1, maxKnown)
		}
	})
}
