package oauth_test

import (
	"fmt"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// TestSignInMailsPerIPv6NetworkAreCapped: the sign-in mails asked for from one IPv6 /48 are
// capped all together (Limits.LoginPerNetwork), whatever /64 of it each comes from. Before,
// only the /64 was counted (LoginPerIP, 30 per 15 minutes): a /48, which a tunnel broker hands
// out for free, holds 65,536 /64s, so it could ask for two million sign-in mails in a quarter
// of an hour, each to a new address, each leaving records that outlive every session (the used
// link's page, 24 hours; the address's day budget, a counter the embedded store never
// evicts): past the store's bound every session was pushed out, and as many mails sent. A
// request refused for its network sends nothing and adds no key to the store; another /48,
// and IPv4 clients, keep their own budgets.
func TestSignInMailsPerIPv6NetworkAreCapped(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := t.Context()
		perNetwork := e.svc.Config.Limits.LoginPerNetwork.N
		if perNetwork <= 0 || perNetwork >= 65536*e.svc.Config.Limits.LoginPerIP.N {
			t.Fatalf("LoginPerNetwork.N = %d: want a cap below what a /48's /64s get apart", perNetwork)
		}
		sent := 0
		for i := range perNetwork + 1 {
			// A new /64 and a new address each time: every per-/64 and per-address budget is fresh.
			ip := fmt.Sprintf("2001:db8:16:%x::1", i)
			err := e.svc.SendMagicLink(ctx, fmt.Sprintf("net16-%d@example.com", i), ip)
			switch {
			case err == nil:
				sent++
			case apperr.Is(err, apperr.RateLimited):
			default:
				t.Fatalf("mail %d from %s: %v", i+1, ip, err)
			}
			if i < perNetwork && err != nil {
				t.Fatalf("mail %d from %s, within the network's %d: %v", i+1, ip, perNetwork, err)
			}
		}
		if sent != perNetwork || box.count() != perNetwork {
			t.Fatalf("from %d /64s of one /48: %d sign-in mails answered, %d sent; want %d (LoginPerNetwork)",
				perNetwork+1, sent, box.count(), perNetwork)
		}
		keys, err := e.kv.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		// More of the same /48 (one /64 again, so that nothing new is counted for it): refused,
		// and nothing is written.
		for i := range 5 {
			err := e.svc.SendMagicLink(ctx, fmt.Sprintf("net16-over-%d@example.com", i), "2001:db8:16:1::2")
			if !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("mail past the network's cap: %v, want RateLimited", err)
			}
		}
		if after, _ := e.kv.DBSize(ctx).Result(); after != keys || box.count() != perNetwork {
			t.Fatalf("refused mails left %d keys in the store (was %d) and sent %d; want none added, none sent", after, keys, box.count()-perNetwork)
		}
		for _, ip := range []string{"2001:db8:17::1", "192.0.2.160"} {
			if err := e.svc.SendMagicLink(ctx, "net16-elsewhere@example.com", ip); err != nil {
				t.Fatalf("a mail from %s, another network: %v", ip, err)
			}
		}
	})
}
