package oauth_test

import (
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// wrongCode is a 6-digit code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// TestASignInMailToANewAddressLeavesOneCounterForTheDay: a sign-in mail to a new address, and
// a wrong code at the sign-in it started, each left a counter of the address that lives a day
// (its mails' day budget, LoginPerAddressDay, and its codes', CodePerAddress), which the
// embedded store never evicts and keeps to half of it. A source's day of LoginPerSourceDay
// such mails kept two per address: about 4,050 IPv4 addresses or /48s filled the counters'
// half of a default store, after which every new counter, so every sign-in, answered 503. The
// two budgets now share one counter per address (their windows being the same), so a day's
// mails leave one counter each, besides the used link's record (which is evicted first).
func TestASignInMailToANewAddressLeavesOneCounterForTheDay(t *testing.T) {
	t.Parallel()
	cfg := unboundedQuarter()
	cfg.Limits.MagicConfirmPerIP = oauth.Limit{N: 1 << 20, Window: 15 * time.Minute}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := t.Context()
		day := e.svc.Config.Limits.LoginPerSourceDay.N
		for _, src := range []struct {
			name, tag string
			ip        func(i int) string
		}{
			{"one IPv4 address", "v4", func(int) string { return "192.0.2.24" }},
			{"the /64s of one /48", "v6", func(i int) string { return fmt.Sprintf("2001:db8:2424:%x::1", i) }},
		} {
			before := e.keys23(t)
			for i := range day {
				to, browser := fmt.Sprintf("new24-%s-%d@example.com", src.tag, i), fmt.Sprintf("lsbr_%040s", fmt.Sprint(src.tag, i))
				raw, err := e.svc.StartSignIn(ctx, to, "", src.ip(i), browser, "")
				if err != nil {
					t.Fatalf("%s, mail %d to a new address: %v", src.name, i+1, err)
				}
				_, code := box.last(t, to)
				if _, err := e.svc.UseCode(ctx, raw, wrongCode(code), src.ip(i), browser); !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("%s, a wrong code at sign-in %d: %v, want Invalid", src.name, i+1, err)
				}
			}
			// The quarter's counters, the sign-ins and their links end; what is left lives a day.
			e.advance(t, 16*time.Minute)
			if e.embedded {
				e.kv.Engine.Sweep()
			}
			// Per mail the used link's record and one counter of the address; the source's day.
			left := e.keys23(t) - before
			if most := int64(2*day + 1); left > most {
				t.Fatalf("%s: %d mails to new addresses, a wrong code each, left %d keys for the day; want at most %d", src.name, day, left, most)
			}
		}
	})
}

// TestAnAddressesDayBudgetsOfMailsAndCodesStayApart: the day budgets of an address's sign-in
// mails and of the codes tried for it share a counter, each still with its own size: codes
// spent leave the mails' day, and mails spent leave the codes'.
func TestAnAddressesDayBudgetsOfMailsAndCodesStayApart(t *testing.T) {
	t.Parallel()
	cfg := unboundedQuarter()
	cfg.Limits.LoginPerAddress = oauth.Limit{N: 100, Window: 15 * time.Minute}
	cfg.Limits.LoginPerAddressDay = oauth.Limit{N: 4, Window: 24 * time.Hour}
	cfg.Limits.CodePerAddress = oauth.Limit{N: 3, Window: 24 * time.Hour}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := t.Context()
		const ip = "192.0.2.124"
		start := func(to, browser string) (raw, code string) {
			t.Helper()
			raw, err := e.svc.StartSignIn(ctx, to, "", ip, browser, "")
			if err != nil {
				t.Fatalf("a mail to %s: %v", to, err)
			}
			_, code = box.last(t, to)
			return raw, code
		}
		// Codes spent first: the address still gets its mails.
		const codes = "codes24@example.com"
		raw, code := start(codes, "lsbr_"+fmt.Sprintf("%040s", "c24"))
		for i := range 3 {
			if _, err := e.svc.UseCode(ctx, raw, wrongCode(code), ip, "lsbr_"+fmt.Sprintf("%040s", "c24")); !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Gone) {
				t.Fatalf("wrong code %d of the day's 3: %v", i+1, err)
			}
		}
		raw, code = start(codes, "lsbr_"+fmt.Sprintf("%040s", "c24b"))
		if _, err := e.svc.UseCode(ctx, raw, code, ip, "lsbr_"+fmt.Sprintf("%040s", "c24b")); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a code past the address's day of codes: %v, want RateLimited", err)
		}
		for i := range 2 {
			start(codes, "lsbr_"+fmt.Sprintf("%040s", fmt.Sprint("c24m", i)))
		}
		if err := e.svc.SendMagicLink(ctx, codes, ip); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("mail 5 past the address's day of 4: %v, want RateLimited", err)
		}
		// Mails spent first: the address's codes are still tried.
		const mails = "mails24@example.com"
		for i := range 3 {
			if err := e.svc.SendMagicLink(ctx, mails, ip); err != nil {
				t.Fatalf("mail %d of the day's 4: %v", i+1, err)
			}
		}
		raw, code = start(mails, "lsbr_"+fmt.Sprintf("%040s", "m24"))
		if err := e.svc.SendMagicLink(ctx, mails, ip); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("mail 5 past the address's day of 4: %v, want RateLimited", err)
		}
		if _, err := e.svc.UseCode(ctx, raw, wrongCode(code), ip, "lsbr_"+fmt.Sprintf("%040s", "m24")); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a wrong code after the day's mails: %v, want Invalid", err)
		}
		if in, err := e.svc.UseCode(ctx, raw, code, ip, "lsbr_"+fmt.Sprintf("%040s", "m24")); err != nil || in.User.Email != mails {
			t.Fatalf("the right code after the day's mails: %v", err)
		}
	})
}
