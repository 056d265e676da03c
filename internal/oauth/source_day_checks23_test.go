package oauth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// keys is the number of keys in e's store (the embedded store answers no SCAN).
func (e *flowEnv) keys23(t *testing.T) int64 {
	t.Helper()
	n, err := e.kv.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// unboundedQuarter leaves the budgets of a quarter of an hour out of the way, so that a test
// asks in moments what a source may ask over a day.
func unboundedQuarter() oauth.Config {
	var c oauth.Config
	c.Limits.LoginPerIP = oauth.Limit{N: 1 << 20, Window: 15 * time.Minute}
	c.Limits.LoginPerNetwork = oauth.Limit{N: 1 << 20, Window: 15 * time.Minute}
	return c
}

// TestASourceCannotFillTheCountersWithSignInMailsToNewAddresses: every sign-in mail to a new
// address leaves counters of that address that live a day (its budgets of mails and of
// codes), which the embedded store never evicts and keeps to half of its keys. Before, only the
// budgets of a quarter of an hour (LoginPerIP, LoginPerNetwork) bounded what one source asked:
// one IPv4 address could keep some 5,800 such counters, one /48 some 23,000, so a few hundred
// addresses (or a few dozen /48s) filled the half in a day, and from then on every new counter,
// so every sign-in on the server, answered 503. A source (an IPv4 address, an IPv6 /48 however
// many /64s it spreads over) now asks at most LoginPerSourceDay mails a day from browsers that
// never signed in to the address asked for; past it a request is refused and writes nothing.
func TestASourceCannotFillTheCountersWithSignInMailsToNewAddresses(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, unboundedQuarter(), func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := t.Context()
		day := e.svc.Config.Limits.LoginPerSourceDay.N
		if day <= 0 || day > 200 {
			t.Fatalf("LoginPerSourceDay.N = %d: want a day's budget of at most 200", day)
		}
		sentBefore := 0
		for _, src := range []struct {
			name, tag string
			ip        func(i int) string
		}{
			{"one IPv4 address", "v4", func(int) string { return "192.0.2.23" }},
			{"the /64s of one /48", "v6", func(i int) string { return fmt.Sprintf("2001:db8:23:%x::1", i) }},
		} {
			before := e.keys23(t)
			for i := range day {
				if err := e.svc.SendMagicLink(ctx, fmt.Sprintf("new23-%s-%d@example.com", src.tag, i), src.ip(i)); err != nil {
					t.Fatalf("%s, mail %d to a new address, within the day's %d: %v", src.name, i+1, day, err)
				}
			}
			written := e.keys23(t) - before
			// Per mail: two counters of the address (its quarter's and its day's budget), the
			// link's two records, and for IPv6 the counter of the quarter of the /64 it came
			// from.
			if most := int64(5*day + 4); written > most {
				t.Fatalf("%s wrote %d keys for %d mails; want at most %d", src.name, written, day, most)
			}
			for i := range 20 {
				err := e.svc.SendMagicLink(ctx, fmt.Sprintf("over23-%s-%d@example.com", src.tag, i), src.ip(day+i))
				if !apperr.Is(err, apperr.RateLimited) {
					t.Fatalf("%s, mail %d to a new address, past the day's %d (LoginPerSourceDay): %v, want RateLimited", src.name, day+i+1, day, err)
				}
			}
			if after := e.keys23(t) - before; after != written {
				t.Fatalf("%s: refused mails wrote %d keys; want none", src.name, after-written)
			}
			if box.count() != sentBefore+day {
				t.Fatalf("%s: %d mails sent; want %d", src.name, box.count()-sentBefore, day)
			}
			sentBefore = box.count()
		}
		// Other sources still get their mails.
		if err := e.svc.SendMagicLink(ctx, "fresh23@example.com", "198.51.100.23"); err != nil {
			t.Fatalf("a mail from another source: %v", err)
		}
		if err := e.svc.SendMagicLink(ctx, "fresh23-v6@example.com", "2001:db8:24::1"); err != nil {
			t.Fatalf("a mail from another /48: %v", err)
		}
	})
}

// TestPeopleBehindASpentAddressStillSignInFromTheirBrowsers: behind carrier-grade NAT many
// people share one IPv4 address, whose day of sign-in mails strangers may spend. A browser
// that signed in to the account before is not counted against it, and neither is a resend of a
// waiting sign-in, so the person is not locked out by neighbours.
func TestPeopleBehindASpentAddressStillSignInFromTheirBrowsers(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, unboundedQuarter(), func(t *testing.T, e *flowEnv) {
		ctx := t.Context()
		e.svc.Mail = &outbox{}
		const shared = "192.0.2.230"
		u := e.person(t)
		usr, err := e.svc.Identity.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		mine := "lsbr_" + fmt.Sprintf("%040s", "mine23")
		if err := e.svc.RememberBrowser(ctx, mine, usr); err != nil {
			t.Fatal(err)
		}
		// A neighbour's waiting sign-in, then strangers spend the address's day.
		neighbour, err := e.svc.StartSignIn(ctx, "neighbour23@example.com", "", shared, "lsbr_"+fmt.Sprintf("%040s", "nb23"), "")
		if err != nil {
			t.Fatal(err)
		}
		for i := range e.svc.Config.Limits.LoginPerSourceDay.N + 1 {
			err := e.svc.SendMagicLink(ctx, fmt.Sprintf("stranger23-%d@example.com", i), shared)
			if err != nil && !apperr.Is(err, apperr.RateLimited) {
				t.Fatal(err)
			}
		}
		if err := e.svc.SendMagicLink(ctx, "stranger23-over@example.com", shared); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a stranger's mail past the address's day: %v, want RateLimited", err)
		}
		if _, err := e.svc.StartSignIn(ctx, usr.Email, "", shared, mine, ""); err != nil {
			t.Fatalf("the person's own browser behind the spent address: %v", err)
		}
		e.advance(t, time.Minute)
		if err := e.svc.Resend(ctx, neighbour, shared, "lsbr_"+fmt.Sprintf("%040s", "nb23")); err != nil {
			t.Fatalf("a resend of a waiting sign-in behind the spent address: %v", err)
		}
	})
}
