package oauth_test

import (
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
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
	// The /48's day (LoginPerSourceDay, 100 mails from browsers that never signed in) is
	// below a quarter's cap of it: left wide, so that the quarter's cap is what this measures.
	var cfg oauth.Config
	cfg.Limits.LoginPerSourceDay = oauth.Limit{N: 1 << 20, Window: 24 * time.Hour}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
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

// TestAuthorizationRequestsPerIPv6NetworkAreCapped: the authorization requests one IPv6 /48
// starts are capped all together (Limits.FlowsPerNetwork). Before, only its /64 was counted
// (FlowsPerAddress, 600 per 15 minutes), and a /48 holds 65,536 /64s: one /48 could keep 39
// million flows (up to some kilobytes each, 30 minutes each) in a quarter of an hour, far past
// the embedded store's bound, which then pushed out everyone's sign-ins in progress (their
// flows, codes, links). A request refused for its network stores nothing; another /48 keeps
// its own budget.
func TestAuthorizationRequestsPerIPv6NetworkAreCapped(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		perNetwork := e.svc.Config.Limits.FlowsPerNetwork.N
		if perNetwork <= 0 || perNetwork >= 65536*e.svc.Config.Limits.FlowsPerAddress.N {
			t.Fatalf("FlowsPerNetwork.N = %d: want a cap below what a /48's /64s get apart", perNetwork)
		}
		req := &oauth.AuthorizeRequest{ClientID: "net16", RedirectURI: "https://app.example/cb", ResponseType: "code", MaxAge: -1}
		from := func(ip string) error {
			_, err := e.svc.StartFlow(auth.WithClientIP(t.Context(), ip), req, "browser-net16")
			return err
		}
		started := 0
		for i := range perNetwork + 1 {
			// A new /64 every 500 requests, within its own 600.
			err := from(fmt.Sprintf("2001:db8:16:%x::%x", i/500, i%500+1))
			switch {
			case err == nil:
				started++
			case !apperr.Is(err, apperr.RateLimited):
				t.Fatalf("flow %d: %v", i+1, err)
			}
		}
		if started != perNetwork {
			t.Fatalf("from /64s of one /48 within their own budgets: %d flows started, want %d (FlowsPerNetwork)", started, perNetwork)
		}
		keys, err := e.kv.DBSize(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := from("2001:db8:16::ffff"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a flow past the network's cap: %v, want RateLimited", err)
		}
		if after, _ := e.kv.DBSize(t.Context()).Result(); after != keys {
			t.Fatalf("a refused flow left %d keys in the store, was %d", after, keys)
		}
		if err := from("2001:db8:17::1"); err != nil {
			t.Fatalf("a flow from another /48: %v", err)
		}
	})
}
