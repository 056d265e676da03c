package oauth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// TestASignOutGoesOnWhileTheCountersAreFull22 (review21, checks22): since checks21 the
// embedded store refuses a new rate-limit counter once counters fill their half of it (OOM,
// 503), and anyone with enough addresses can fill it (one new counter per sign-in mail asked
// for a new address). A sign-out and every ending of sessions from elsewhere first note the
// sign-out in a new counter (SignOutNotes, the browser's count of sign-outs): refused, the
// note's error refused the sign-out, "sign out everywhere else" and the ending of one session,
// and the session stayed. Whoever filled the counters kept a stolen session alive while they
// kept them full. The sign-out now goes on unnoted, as past the day's cap.
func TestASignOutGoesOnWhileTheCountersAreFull22(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := kvtest.NewClock()
	k, err := kv.OpenWith(ctx, "", kv.Options{MaxKeys: 400, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	e := newFlowEnv(t, storetest.SQLite(t), k, clk, true, oauth.Config{})
	e.svc.Identity.BrowsersSignedOut = e.svc.SignedOutElsewhere

	u := e.person(t)
	cookie := func(name string) string { return "lsbr_" + fmt.Sprintf("%-40s", name) }
	start := func(browser string) auth.Session {
		t.Helper()
		raw, err := e.svc.Identity.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "agent", IP: "192.0.2.1", Browser: browser})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := e.svc.Identity.Sessions.Lookup(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	mine := auth.WithSession(ctx, start(cookie("phone")))
	stolen, other := start(cookie("thief")), start(cookie("other"))

	// Distinct counters, as from many addresses, until a new one is refused.
	for i := 0; ; i++ {
		if _, _, err := k.Limit(ctx, fmt.Sprintf("flood:%d", i), 5, time.Hour); err != nil {
			break
		}
		if i > 400 {
			t.Fatal("no counter was refused")
		}
	}
	alive := func(s auth.Session) bool {
		t.Helper()
		list, err := e.svc.Identity.Sessions.List(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if l.ID == s.ID {
				return true
			}
		}
		return false
	}
	if err := e.svc.Identity.SignOutSession(mine, stolen.ID); err != nil {
		t.Fatalf("ending a stolen session from elsewhere while the counters are full: %v", err)
	}
	if alive(stolen) {
		t.Fatal("the session ended from elsewhere is still listed")
	}
	if _, err := e.svc.Identity.SignOutOtherSessions(mine); err != nil {
		t.Fatalf("signing out everywhere else while the counters are full: %v", err)
	}
	if alive(other) {
		t.Fatal("a session is still listed after signing out everywhere else")
	}
	if err := e.svc.BrowserSignedOut(mine, cookie("phone")); err != nil {
		t.Fatalf("noting one's own sign-out while the counters are full: %v", err)
	}
}
