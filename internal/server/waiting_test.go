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
		// asked, named masked in any other, where it is typed.
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

// headerTransport sends its headers with every request: a browser's User-Agent and language,
// and the X-Forwarded-For a trusted proxy would add.
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A link opened on another device than the one waiting for it says which device asked, when,
// and whether from this device's network: a person talked into reading the number off a
// stranger's screen sees that the device is not theirs. The page names the browser and
// system, never the User-Agent header itself.
func TestTheOtherDevicePageSaysWhichDeviceAsked(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t, withEnv("LOGINSIGN_TRUSTED_PROXIES", "127.0.0.1/32, ::1"))
	var offset atomic.Int64
	e.srv.oauth.Now = func() time.Time { return time.Now().UTC().Add(time.Duration(offset.Load())) }
	from := func(h headerTransport) *browser {
		b := e.browser()
		b.Transport = h
		return b
	}
	const windowsChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"
	const who = "asker@example.com"
	asker := from(headerTransport{"User-Agent": windowsChrome, "X-Forwarded-For": "2001:db8:5:5::10"})
	if p := asker.post(e.base+"/login", url.Values{"email": {who}}); p.StatusCode != http.StatusOK {
		t.Fatalf("asking for a link: %d", p.StatusCode)
	}
	link, _ := e.signInMail(who)
	offset.Add(int64(3*time.Minute + 10*time.Second))

	for _, tt := range []struct {
		name   string
		h      headerTransport
		wants  []string
		absent []string
	}{
		{"another network", headerTransport{"X-Forwarded-For": "198.51.100.9"},
			[]string{`id="asker"`, "<strong>Chrome on Windows</strong>, 3 minutes ago.", "another network than this device"}, []string{"same network"}},
		{"the same /64", headerTransport{"X-Forwarded-For": "2001:db8:5:5::77"},
			[]string{"<strong>Chrome on Windows</strong>, 3 minutes ago.", "the same network as this device"}, []string{"another network"}},
		{"in French", headerTransport{"X-Forwarded-For": "198.51.100.9", "Accept-Language": "fr"},
			[]string{"<strong>Chrome sur Windows</strong>, il y a 3 minutes.", "un autre réseau"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := from(tt.h).get(link)
			if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `id="approve-form"`) {
				t.Fatalf("the link on another device: %d\n%s", p.StatusCode, p.Body)
			}
			for _, s := range tt.wants {
				if !strings.Contains(p.Body, s) {
					t.Errorf("no %q on the page:\n%s", s, p.Body)
				}
			}
			for _, s := range append(tt.absent, "Mozilla", "Win64", "2001:db8") {
				if strings.Contains(p.Body, s) {
					t.Errorf("%q on the page", s)
				}
			}
		})
	}
	// The browser that asked is not asked to approve itself.
	if p := asker.get(link); strings.Contains(p.Body, `id="asker"`) {
		t.Fatal("the asking browser is told about itself")
	}
}
