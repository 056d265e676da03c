package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/ids"
	"loginsign/internal/mail"
	"loginsign/internal/oauth"
	"loginsign/internal/ratelimit"
)

// outbox is a mail.Sender that keeps what it is given.
type outbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)
}

var (
	linkTokenRe = regexp.MustCompile(`token=(lsml_[A-Za-z0-9_-]+)`)
	codeRe      = regexp.MustCompile(`\b(\d{3}) (\d{3})\b`)
)

// lastTo is the address the last mail went to.
func (o *outbox) lastTo(t *testing.T) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("no mail sent")
	}
	return o.sent[len(o.sent)-1].To
}

// last returns the token of the link and the code of the last mail to to.
func (o *outbox) last(t *testing.T, to string) (link, code string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("no mail sent")
	}
	m := o.sent[len(o.sent)-1]
	if !strings.Contains(m.To, to) {
		t.Fatalf("the last mail went to %q, want %s", m.To, to)
	}
	l := linkTokenRe.FindStringSubmatch(m.Text)
	if l == nil {
		t.Fatalf("no link in the mail:\n%s", m.Text)
	}
	if c := codeRe.FindStringSubmatch(m.Text); c != nil {
		code = c[1] + c[2]
	}
	return l[1], code
}

// TestTryCountersExpireWithTheLink: the counters of tries at a waiting sign-in's code and
// at the number its browser shows (an approval from another device) expire with the link,
// even when the store fails an expiry sent on its own (a connection lost between a counter's
// INCR and its EXPIRE left a counter that never expired).
func TestTryCountersExpireWithTheLink(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	e.kv.AddHook(refuseLoneExpiry{})
	box := &outbox{}
	e.svc.Mail = box
	ctx := e.ctx()
	who := "counted@example.com"
	raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.9", "browser-1", "")
	if err != nil {
		t.Fatal(err)
	}
	link, code := box.last(t, who)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if _, err := e.svc.UseCode(ctx, raw, wrong, "192.0.2.9", "browser-1"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a wrong code: %v", err)
	}
	if err := e.svc.ApproveOther(ctx, link, "no number", "192.0.2.9"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a wrong number: %v", err)
	}
	for _, pattern := range []string{"rl:wtn:*", "rl:wta:*"} {
		keys, err := e.kv.Keys(context.Background(), pattern).Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("counters %s: %v, %v", pattern, keys, err)
		}
		ttl, err := e.kv.PTTL(context.Background(), keys[0]).Result()
		if err != nil || ttl <= 0 || ttl > e.svc.Config.MagicLinkTTL {
			t.Fatalf("counter %s expires in %v (%v), want within %v", keys[0], ttl, err, e.svc.Config.MagicLinkTTL)
		}
	}
	if _, err := e.svc.UseCode(ctx, raw, code, "192.0.2.9", "browser-1"); err != nil {
		t.Fatalf("the right code after a wrong one: %v", err)
	}
}

// refuseLoneExpiry is a go-redis hook that fails every EXPIRE and PEXPIRE sent on its own,
// as a connection lost just before it would; commands in a pipeline or transaction pass.
type refuseLoneExpiry struct{}

func (refuseLoneExpiry) DialHook(next redis.DialHook) redis.DialHook { return next }

func (refuseLoneExpiry) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "expire" || name == "pexpire" {
			err := errors.New("connection lost")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (refuseLoneExpiry) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestMagicLinkSignIn: sign-in by mailed link and by the 6-digit code beside it: the same
// answer for known and unknown addresses, single use, five tries per code, resend only after
// ResendAfter (and it voids the old link), the limits per address.
func TestMagicLinkSignIn(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{ResendAfter: 30 * time.Second}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		app, _ := e.client(t, "https://rp.example/cb")
		flowID, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, "https://rp.example/cb", "")), "browser-1")
		if err != nil {
			t.Fatal(err)
		}

		t.Run("a link creates the account; the flow continues only in its own browser", func(t *testing.T) {
			if _, err := e.svc.StartSignIn(ctx, "New.Person@Example.com", flowID, "192.0.2.1", "browser-1", ""); err != nil {
				t.Fatal(err)
			}
			link, _ := box.last(t, "new.person@example.com")
			if !e.svc.MagicLinkPending(ctx, link) {
				t.Fatal("a fresh link is not pending")
			}
			// Opened in another browser, the link signs in there without browser-1's flow
			// (ownFlow: whoever asked may be a stranger), which stays browser-1's, not signed in.
			in, err := e.svc.UseMagicLink(ctx, link, "192.0.2.1", "browser-2")
			if err != nil || !in.Created || in.User.Email != "new.person@example.com" || in.FlowID != "" {
				t.Fatalf("UseMagicLink = %+v, %v", in, err)
			}
			if _, err := e.svc.BrowserFlow(ctx, flowID, "browser-2"); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("the flow moved to the browser that used the link: %v", err)
			}
			if f, err := e.svc.BrowserFlow(ctx, flowID, "browser-1"); err != nil || f.LoginUserID != "" {
				t.Fatalf("the asking browser's flow = %+v, %v; want it there, not signed in", f, err)
			}
			if _, err := e.svc.UseMagicLink(ctx, link, "192.0.2.1", "browser-2"); err == nil {
				t.Fatal("a link signed in twice")
			}
			if old := e.svc.UsedLink(ctx, link, "browser-2"); old == nil || old.Masked == "" || old.Email != "" {
				t.Fatalf("the used link's page outside the asking browser: %+v", old)
			}
			// The second link to the same address signs in to the same account.
			if err := e.svc.SendMagicLink(ctx, "new.person@example.com", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			link, _ = box.last(t, "new.person@example.com")
			again, err := e.svc.UseMagicLink(ctx, link, "192.0.2.1", "browser-2")
			if err != nil || again.Created || again.User.ID != in.User.ID {
				t.Fatalf("second sign-in = %+v, %v", again, err)
			}
		})

		t.Run("unknown and malformed links", func(t *testing.T) {
			for _, raw := range []string{"", "lsml_unknown", strings.Repeat("x", 300)} {
				if _, err := e.svc.UseMagicLink(ctx, raw, "192.0.2.1", "browser-1"); err == nil {
					t.Fatalf("link %q signed in", raw)
				}
				if e.svc.UsedLink(ctx, raw, "browser-1") != nil {
					t.Fatalf("link %q has an old-link page", raw)
				}
			}
			if err := e.svc.SendMagicLink(ctx, "not an address", "192.0.2.1"); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("a malformed address: %v", err)
			}
		})

		t.Run("the code signs in the waiting browser; five wrong codes end it", func(t *testing.T) {
			who := "coder@example.com"
			raw, err := e.svc.StartSignIn(ctx, who, flowID, "192.0.2.2", "browser-3", "")
			if err != nil {
				t.Fatal(err)
			}
			_, code := box.last(t, who)
			if _, err := e.svc.UseCode(ctx, raw, code, "192.0.2.2", "browser-4"); err == nil {
				t.Fatal("another browser used the waiting sign-in's code")
			}
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			if _, err := e.svc.UseCode(ctx, raw, "12", "192.0.2.2", "browser-3"); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("a short code: %v", err)
			}
			in, err := e.svc.UseCode(ctx, raw, code[:3]+" "+code[3:], "192.0.2.2", "browser-3")
			if err != nil || in.User.Email != who {
				t.Fatalf("the right code: %+v, %v", in, err)
			}
			if _, err := e.svc.UseCode(ctx, raw, code, "192.0.2.2", "browser-3"); !apperr.Is(err, apperr.Gone) {
				t.Fatalf("the code again: %v", err)
			}

			raw, err = e.svc.StartSignIn(ctx, who, "", "192.0.2.2", "browser-3", "")
			if err != nil {
				t.Fatal(err)
			}
			link, code := box.last(t, who)
			for i := 0; i < oauth.CodeAttempts; i++ {
				if _, err := e.svc.UseCode(ctx, raw, wrong, "192.0.2.2", "browser-3"); err == nil {
					t.Fatal("a wrong code signed in")
				}
			}
			if _, err := e.svc.UseCode(ctx, raw, code, "192.0.2.2", "browser-3"); !apperr.Is(err, apperr.Gone) {
				t.Fatalf("the right code after %d wrong ones: %v", oauth.CodeAttempts, err)
			}
			if _, err := e.svc.UseMagicLink(ctx, link, "192.0.2.2", "browser-3"); err != nil {
				t.Fatalf("the link after the code ended: %v", err)
			}
		})

		t.Run("resend waits for ResendAfter and voids the old link", func(t *testing.T) {
			who := "resender@example.com"
			raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.3", "browser-5", "")
			if err != nil {
				t.Fatal(err)
			}
			first, _ := box.last(t, who)
			if err := e.svc.Resend(ctx, raw, "192.0.2.3", "browser-5"); !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("resend at once: %v", err)
			}
			e.clock.Advance(31 * time.Second)
			if err := e.svc.Resend(ctx, raw, "192.0.2.3", "browser-5"); err != nil {
				t.Fatalf("resend after ResendAfter: %v", err)
			}
			second, _ := box.last(t, who)
			if _, err := e.svc.UseMagicLink(ctx, first, "192.0.2.3", "browser-5"); err == nil {
				t.Fatal("the link before a resend still signs in")
			}
			if _, err := e.svc.UseMagicLink(ctx, second, "192.0.2.3", "browser-5"); err != nil {
				t.Fatalf("the resent link: %v", err)
			}
		})

		t.Run("mails per address are limited, the same for unknown addresses", func(t *testing.T) {
			for _, who := range []string{"limited@example.com", e.person(t).Email} {
				before := box.count()
				n := e.svc.Config.Limits.LoginPerAddress.N
				for i := 0; i < n; i++ {
					if err := e.svc.SendMagicLink(ctx, who, "192.0.2.4"); err != nil {
						t.Fatalf("%s mail %d: %v", who, i+1, err)
					}
				}
				err := e.svc.SendMagicLink(ctx, who, "192.0.2.4")
				if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter <= 0 {
					t.Fatalf("%s over the limit: %v", who, err)
				}
				if box.count() != before+n {
					t.Fatalf("%s: %d mails, want %d", who, box.count()-before, n)
				}
			}
		})

		t.Run("+tag variants and Gmail dots count as one mailbox; each mail goes to the address typed", func(t *testing.T) {
			for _, variants := range [][]string{
				{"victim+1@example.com", "victim+2@example.com", "victim+3@example.com", "victim+4@example.com", "victim+5@example.com", "victim+6@example.com"},
				{"victim@gmail.com", "v.ictim@gmail.com", "vi.ctim+a@gmail.com", "Victim@googlemail.com", "v.i.c.t.i.m@gmail.com", "victim+6@googlemail.com"},
			} {
				n := e.svc.Config.Limits.LoginPerAddress.N
				if len(variants) != n+1 {
					t.Fatalf("%d variants for a limit of %d", len(variants), n)
				}
				for i, who := range variants[:n] {
					// From an address of its own each, as from many machines.
					if err := e.svc.SendMagicLink(ctx, who, fmt.Sprintf("203.0.113.%d", i+1)); err != nil {
						t.Fatalf("mail %d to %s: %v", i+1, who, err)
					}
					if to := box.lastTo(t); to != strings.ToLower(who) {
						t.Fatalf("mail %d went to %q, want %q", i+1, to, strings.ToLower(who))
					}
				}
				before := box.count()
				err := e.svc.SendMagicLink(ctx, variants[n], "203.0.113.99")
				if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter <= 0 {
					t.Fatalf("mail %d to %s, the same mailbox: %v, want rate limited", n+1, variants[n], err)
				}
				if box.count() != before {
					t.Fatalf("mail %d to %s was sent over the limit", n+1, variants[n])
				}
			}
		})

		// Strangers asking for links to an address use up its cap, but not for a browser
		// that signed in to the account before: the person is not locked out of signing in.
		t.Run("a browser that signed in before keeps its own budget", func(t *testing.T) {
			const victim = "locked@example.com"
			mine := "lsbr_" + strings.Repeat("m", 40)
			if err := e.svc.RememberBrowser(ctx, mine, &ent.User{ID: "usr_locked", Email: victim}); err != nil {
				t.Fatal(err)
			}
			n := e.svc.Config.Limits.LoginPerAddress.N
			for i := range n {
				stranger := fmt.Sprintf("lsbr_%040d", i)
				if _, err := e.svc.StartSignIn(ctx, victim, "", fmt.Sprintf("198.51.100.%d", i+1), stranger, ""); err != nil {
					t.Fatalf("stranger %d: %v", i+1, err)
				}
			}
			if _, err := e.svc.StartSignIn(ctx, victim, "", "198.51.100.99", "lsbr_"+strings.Repeat("s", 40), ""); !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("another stranger past the cap: %v, want rate limited", err)
			}
			before := box.count()
			if _, err := e.svc.StartSignIn(ctx, victim, "", "192.0.2.77", mine, ""); err != nil {
				t.Fatalf("the person's own browser after strangers used up the cap: %v", err)
			}
			if box.count() != before+1 {
				t.Fatal("no link was mailed to the person's own browser")
			}
		})
	})
}

// LinkAsker says whether the browser waiting for a link asked from the network of the one
// that opened it (an IPv6 /64 as one), and says nothing of networks when either address is
// unknown; the browser that asked is told nothing.
func TestLinkAskerComparesNetworks(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const who = "asker@example.com"
		firefox := "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
		asking, err := e.svc.StartSignIn(ctx, who, "", "2001:db8:9:9::1", "browser-a", firefox)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := box.last(t, who) // the link's token
		// The waiting sign-in keeps a keyed digest of the network: a plain hash of one of
		// 2^32 IPv4 networks (or of a /64) would give it back to whoever reads the store.
		network, _ := ratelimit.AddressKey("2001:db8:9:9::1")
		record, err := e.kv.Get(ctx, "wt:"+ids.Hash(asking)).Result()
		if err != nil || !strings.Contains(record, `"ag":"Firefox/Linux"`) {
			t.Fatalf("the waiting sign-in: %q, %v", record, err)
		}
		if strings.Contains(record, ids.Hash(network)) {
			t.Errorf("the waiting sign-in keeps the plain hash of the asking network: %s", record)
		}
		for ip, want := range map[string][2]bool{ // {known, same}
			"2001:db8:9:9::42": {true, true}, "198.51.100.1": {true, false}, "": {false, false},
			"127.0.0.1": {false, false}, "10.0.0.5": {false, false}, "::ffff:192.168.1.2": {false, false},
		} {
			a := e.svc.LinkAsker(ctx, raw, "browser-b", ip)
			if a == nil || a.NetworkKnown != want[0] || a.SameNetwork != want[1] || a.Browser != "Firefox" || a.OS != "Linux" {
				t.Errorf("from %q: %+v, want known %v, same %v, Firefox on Linux", ip, a, want[0], want[1])
			}
		}
		if a := e.svc.LinkAsker(ctx, raw, "browser-a", "2001:db8:9:9::1"); a != nil {
			t.Errorf("the asking browser was told %+v", a)
		}
		// Two clients behind an untrusted proxy (or on a LAN) show private addresses: nothing
		// is said of their network, rather than "the same".
		const lan = "lan@example.com"
		if _, err := e.svc.StartSignIn(ctx, lan, "", "10.0.0.5", "browser-c", firefox); err != nil {
			t.Fatal(err)
		}
		raw, _ = box.last(t, lan)
		if a := e.svc.LinkAsker(ctx, raw, "browser-d", "10.0.0.5"); a == nil || a.NetworkKnown || a.SameNetwork {
			t.Errorf("a private address: %+v, want nothing said of the network", a)
		}
	})
}
