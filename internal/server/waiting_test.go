package server

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/oauth"
)

var (
	mailCodeRe = regexp.MustCompile(`\b(\d{3}) (\d{3})\b`)
	matchRe    = regexp.MustCompile(`id="match" class="match">(\d\d)<`)
)

// signInMail reads the next mail to to and returns its link and 6-digit code.
func (e *oauthEnv) signInMail(to string) (link, code string) {
	e.t.Helper()
	m := e.smtp.Next(e.t, 10*time.Second)
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) {
		e.t.Fatalf("mail went to %v, want %s", m.To, to)
	}
	text := strings.ReplaceAll(m.Text, "\r\n", "\n")
	l, c := linkRe.FindStringSubmatch(text), mailCodeRe.FindStringSubmatch(text)
	if l == nil || c == nil {
		e.t.Fatalf("no link or code in the mail:\n%s", text)
	}
	return l[1], c[1] + c[2]
}

// The "check your email" page: the code signs in the browser that asked (5 tries, single use,
// spends the link), a new link waits for ResendAfter, and a link opened on another device
// signs in the waiting browser only with the number that browser shows.
func TestWaitingSignIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		// The service's clock, moved instead of waiting for ResendAfter.
		var offset atomic.Int64
		e.srv.oauth.Now = func() time.Time { return time.Now().UTC().Add(time.Duration(offset.Load())) }
		e.srv.oauth.Config.ResendAfter = time.Minute
		noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		browser := func() *browser { b := e.browser(); b.CheckRedirect = noFollow; return b }
		tok := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }
		const who = "waiting@example.com"
		wrongOf := func(code string) string {
			if code == "000000" {
				return "111111"
			}
			return "000000"
		}

		// The code, in the browser that asked.
		a := browser()
		if p := a.post(e.base+"/login", url.Values{"email": {who}}); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login/sent" {
			t.Fatalf("POST /login = %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		link, code := e.signInMail(who)
		if p := a.get(e.base + "/login/sent"); !strings.Contains(p.Body, `<strong id="sent-to">`+who+`</strong>`) || !matchRe.MatchString(p.Body) {
			t.Fatalf("the sent page does not show the address and the number:\n%s", p.Body)
		}
		stranger := browser()
		if p := stranger.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusGone {
			t.Fatalf("the code in another browser = %d, want 410", p.StatusCode)
		}
		for i := 4; i >= 1; i-- {
			p := a.post(e.base+"/login/code", url.Values{"code": {wrongOf(code)}})
			if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, fmt.Sprintf("%d attempt", i)) || !strings.Contains(p.Body, `aria-invalid="true"`) {
				t.Fatalf("wrong code = %d", p.StatusCode)
			}
		}
		if p := a.post(e.base+"/login/code", url.Values{"code": {code[:3] + " " + code[3:]}}); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
			t.Fatalf("right code = %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if p := a.get(e.base + "/dashboard"); p.StatusCode != 200 {
			t.Fatalf("after the code, /dashboard = %d", p.StatusCode)
		}
		if p := browser().post(e.base+"/login/magic", url.Values{"token": {tok(link)}}); p.StatusCode != http.StatusGone {
			t.Fatalf("the link after its code was used = %d, want 410", p.StatusCode)
		}
		// Its error page offers a new link to the same address: prefilled in the browser that
		// asked, masked (the old link asks for it) in any other.
		if p := a.get(link); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `id="new-link-form"`) || !strings.Contains(p.Body, `value="`+who+`"`) {
			t.Fatalf("the used link's page = %d:\n%s", p.StatusCode, p.Body)
		}
		if p := browser().get(link); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `id="new-link-form"`) ||
			!strings.Contains(p.Body, oauth.MaskEmail(who)) || strings.Contains(p.Body, who) {
			t.Fatalf("the used link's page in another browser = %d:\n%s", p.StatusCode, p.Body)
		}

		// Five wrong codes end the code; the link still works.
		b := browser()
		b.post(e.base+"/login", url.Values{"email": {who}})
		link, code = e.signInMail(who)
		for range 5 {
			b.post(e.base+"/login/code", url.Values{"code": {wrongOf(code)}})
		}
		if p := b.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, "too many wrong codes") {
			t.Fatalf("the right code after 5 wrong ones = %d", p.StatusCode)
		}

		// Resend: not before ResendAfter; then a new link and code, and the old link is void.
		if p := b.post(e.base+"/login/resend", nil); p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
			t.Fatalf("resend at once = %d", p.StatusCode)
		}
		offset.Add(int64(time.Minute + time.Second))
		if p := b.post(e.base+"/login/resend", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("resend = %d", p.StatusCode)
		}
		_, code2 := e.signInMail(who)
		if p := b.get(link); p.StatusCode != http.StatusGone {
			t.Fatalf("the first link after a resend = %d, want 410", p.StatusCode)
		}
		if p := b.post(e.base+"/login/code", url.Values{"code": {code2}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the new code = %d", p.StatusCode)
		}

		// Another device: the link asks where to sign in; approving needs the number.
		c := browser()
		c.post(e.base+"/login", url.Values{"email": {who}})
		link, _ = e.signInMail(who)
		m := matchRe.FindStringSubmatch(c.get(e.base + "/login/sent").Body)
		if m == nil {
			t.Fatal("no number on the sent page")
		}
		d := browser()
		if p := d.get(link); !strings.Contains(p.Body, `id="approve-form"`) {
			t.Fatalf("the link on another device offers no approval:\n%s", p.Body)
		}
		if p := c.get(link); strings.Contains(p.Body, `id="approve-form"`) {
			t.Fatal("the link in the browser that asked offers an approval")
		}
		wrong := "10"
		if m[1] == wrong {
			wrong = "11"
		}
		if p := d.post(e.base+"/login/magic/approve", url.Values{"token": {tok(link)}, "match": {wrong}}); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("a wrong number = %d", p.StatusCode)
		}
		if p := c.get(e.base + "/login/waiting"); !strings.Contains(p.Body, `"state":""`) {
			t.Fatalf("waiting state before approval: %s", p.Body)
		}
		if p := d.post(e.base+"/login/magic/approve", url.Values{"token": {tok(link)}, "match": {m[1]}}); p.StatusCode != 200 || !strings.Contains(p.Body, `id="approved"`) {
			t.Fatalf("the right number = %d", p.StatusCode)
		}
		if p := d.get(e.base + "/dashboard"); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the approving device is signed in: /dashboard = %d", p.StatusCode)
		}
		if p := c.get(e.base + "/login/waiting"); !strings.Contains(p.Body, `"state":"approved"`) {
			t.Fatalf("waiting state after approval: %s", p.Body)
		}
		if p := d.post(e.base+"/login/waiting", nil); p.StatusCode == http.StatusSeeOther {
			t.Fatal("another browser finished the approved sign-in")
		}
		if p := c.post(e.base+"/login/waiting", nil); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
			t.Fatalf("finishing = %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if p := c.get(e.base + "/dashboard"); p.StatusCode != 200 {
			t.Fatalf("after approval, /dashboard = %d", p.StatusCode)
		}
		if p := c.post(e.base+"/login/waiting", nil); p.StatusCode == http.StatusSeeOther {
			t.Fatal("an approval finished twice")
		}

		// Signing in on the other device instead: the waiting browser learns it.
		f := browser()
		f.post(e.base+"/login", url.Values{"email": {who}})
		link, _ = e.signInMail(who)
		if p := browser().post(e.base+"/login/magic", url.Values{"token": {tok(link)}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("signing in on the other device = %d", p.StatusCode)
		}
		if p := f.get(e.base + "/login/waiting"); !strings.Contains(p.Body, `"state":"signed_in_elsewhere"`) {
			t.Fatalf("waiting state: %s", p.Body)
		}
		if p := f.get(e.base + "/dashboard"); p.StatusCode != http.StatusSeeOther {
			t.Fatal("the waiting browser was signed in by the other device")
		}

		// The link opened in another tab of the same browser: the waiting tab learns it.
		// (Another address: who has spent the 5 mails an address gets per 15 minutes.)
		const who2 = "waiting2@example.com"
		g := browser()
		g.post(e.base+"/login", url.Values{"email": {who2}})
		link, _ = e.signInMail(who2)
		if p := g.get(link); strings.Contains(p.Body, `id="approve-form"`) {
			t.Fatal("the same browser is offered an approval")
		}
		if p := g.post(e.base+"/login/magic", url.Values{"token": {tok(link)}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("signing in in the same browser = %d", p.StatusCode)
		}
		if p := g.get(e.base + "/login/waiting"); !strings.Contains(p.Body, `"state":"signed_in"`) {
			t.Fatalf("waiting state: %s", p.Body)
		}
	})
}

// Codes tried for one address are capped across all its links: a new link gives five more
// tries, but never more than Limits.CodePerAddress a day, so guessing cannot add up.
func TestCodeGuessesPerAddressAreCapped(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.oauth.Config.Limits.CodePerAddress = oauth.Limit{N: 3, Window: time.Hour}
		const who = "guessed@example.com"
		try := func(b *browser, code string) page { return b.post(e.base+"/login/code", url.Values{"code": {code}}) }
		wrongOf := func(code string) string {
			if code == "000000" {
				return "111111"
			}
			return "000000"
		}

		first := e.browser()
		first.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		first.post(e.base+"/login", url.Values{"email": {who}})
		_, code := e.signInMail(who)
		for range 2 {
			if p := try(first, wrongOf(code)); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("wrong code = %d, want 400", p.StatusCode)
			}
		}
		second := e.browser()
		second.CheckRedirect = first.CheckRedirect
		second.post(e.base+"/login", url.Values{"email": {who}})
		_, code = e.signInMail(who)
		if p := try(second, wrongOf(code)); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("wrong code on a new link = %d, want 400", p.StatusCode)
		}
		p := try(second, code)
		if p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
			t.Fatalf("a fourth code for the address = %d, want 429 with Retry-After", p.StatusCode)
		}
		if p := second.get(e.base + "/dashboard"); p.StatusCode == http.StatusOK {
			t.Fatal("the capped code signed the browser in")
		}
	})
}
