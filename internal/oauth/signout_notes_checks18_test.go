package oauth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/oauth"
)

// TestSignOutNotesAreCappedPerAccount: each noted sign-out is a kept key (kv.CounterPrefix,
// never evicted) named by a browser cookie the client makes up. A person with a passkey signs
// in and out in two requests, so one account, sending a new cookie at each sign-out, wrote as
// many kept keys as its sign-in budget allowed. Only a signed-in person's sign-out is noted,
// at most SignOutNotes.N a day per account; the sign-out itself is never refused.
func TestSignOutNotesAreCappedPerAccount(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := context.Background()
		noted := func(browser string) bool {
			t.Helper()
			n, err := e.svc.KV.Exists(ctx, kv.CounterPrefix+"brout:"+ids.Hash(browser)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		cookie := func(i int) string { return "lsbr_" + fmt.Sprintf("%04d", i) + strings.Repeat("c", 36) }

		// Without a session nothing is noted.
		if err := e.svc.BrowserSignedOut(ctx, cookie(9999)); err != nil {
			t.Fatal(err)
		}
		if noted(cookie(9999)) {
			t.Fatal("a sign-out without a signed-in person wrote a kept key")
		}

		u := e.person(t)
		raw, err := e.svc.Identity.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "agent", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		signedIn := auth.WithSession(ctx, sess)
		if err := e.svc.BrowserSignedOut(signedIn, cookie(0)); err != nil {
			t.Fatal(err)
		}
		if !noted(cookie(0)) {
			t.Fatal("a signed-in person's sign-out was not noted")
		}
		for i := 1; i < oauth.SignOutNotes.N+20; i++ {
			if err := e.svc.BrowserSignedOut(signedIn, cookie(i)); err != nil {
				t.Fatalf("sign-out %d: %v (past the cap the sign-out goes on, unnoted)", i, err)
			}
		}
		kept := 0
		for i := 0; i < oauth.SignOutNotes.N+20; i++ {
			if noted(cookie(i)) {
				kept++
			}
		}
		if kept > oauth.SignOutNotes.N {
			t.Fatalf("one account's %d sign-outs with made-up browser cookies kept %d keys, want at most %d", oauth.SignOutNotes.N+20, kept, oauth.SignOutNotes.N)
		}
	})
}
