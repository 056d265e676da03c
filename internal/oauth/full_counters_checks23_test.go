package oauth_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// TestALinkMailedBeforeTheCountersFilledStillSignsIn: when enough sources have filled the
// embedded store's half for counters, a new counter is refused (apperr.DependencyDown, 503).
// Asking for a sign-in mail stays refused then (each mail is counted, or anyone could mail
// without bound), but a link already mailed is a single-use secret nobody can guess: opened from
// an address whose counter is not in the store yet (a phone's, after asking on a laptop), it
// answered 503 for as long as the counters were kept full. It now signs the person in.
func TestALinkMailedBeforeTheCountersFilledStillSignsIn(t *testing.T) {
	t.Parallel()
	clk := kvtest.NewClock()
	k, err := kv.OpenWith(context.Background(), "", kv.Options{Now: clk.Now, MaxKeys: 400})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	e := newFlowEnv(t, storetest.SQLite(t), k, clk, true, oauth.Config{})
	box := &outbox{}
	e.svc.Mail = box
	ctx := t.Context()
	const person = "before-the-flood23@example.com"
	if err := e.svc.SendMagicLink(ctx, person, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	link, _ := box.last(t, person)
	// Strangers, each from an address of their own, ask mails for new addresses until the
	// counters' half is full.
	full := false
	for i := range 400 {
		err := e.svc.SendMagicLink(ctx, fmt.Sprintf("flood23-%d@example.com", i), fmt.Sprintf("198.51.%d.%d", i/250, i%250+1))
		if apperr.DependencyDown(err) {
			full = true
			break
		}
		if err != nil {
			t.Fatalf("mail %d: %v", i+1, err)
		}
	}
	if !full {
		t.Fatal("the counters never filled their half")
	}
	if err := e.svc.SendMagicLink(ctx, "after-the-flood23@example.com", "203.0.113.9"); !apperr.DependencyDown(err) {
		t.Fatalf("a mail asked for with the counters full: %v, want it refused (503)", err)
	}
	in, err := e.svc.UseMagicLink(ctx, link, "203.0.113.10", "lsbr_phone23")
	if err != nil {
		t.Fatalf("the person's link, opened from a new address with the counters full: %v", err)
	}
	if in == nil || in.User == nil || in.User.Email != person {
		t.Fatalf("signed in %+v; want %s", in, person)
	}
}
