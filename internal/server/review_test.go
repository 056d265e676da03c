package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/connections"
	"loginsign/internal/oauth"
)

// TestRemovedPictureIsNotServedFromCaches: a served picture may be cached but must be
// revalidated before each use (no max-age that lets a shared cache keep showing it for a day
// after the person removed it); revalidation answers 304 while it exists and 404 once removed.
func TestRemovedPictureIsNotServedFromCaches(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		st, body := b.putPicture(testPNG(t, 40, 40), "image/png", false)
		pic, _ := body["pictureUrl"].(string)
		if st != http.StatusOK || pic == "" {
			t.Fatalf("upload: %d %v", st, body)
		}
		resp, err := http.Get(pic)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cc, etag := resp.Header.Get("Cache-Control"), resp.Header.Get("ETag")
		if resp.StatusCode != 200 || !strings.Contains(cc, "no-cache") || strings.Contains(cc, "max-age") || etag == "" {
			t.Fatalf("GET picture: %d Cache-Control %q ETag %q; want a cacheable answer revalidated before every use", resp.StatusCode, cc, etag)
		}
		req, _ := http.NewRequest(http.MethodGet, pic, nil)
		req.Header.Set("If-None-Match", etag)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
			t.Fatalf("revalidation while present: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		del, _ := http.NewRequest(http.MethodDelete, e.base+"/api/profile/picture", nil)
		if resp, err := b.Do(del); err != nil || resp.StatusCode != 200 {
			t.Fatalf("remove: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("revalidation after removal: %v %v", err, resp)
		} else {
			if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "public") {
				t.Errorf("the 404 of a removed picture is cacheable: %q", cc)
			}
			resp.Body.Close()
		}
	})
}

// TestExportRefusesCrossSiteRequests: a browser request to the data export started by another
// site (a link or navigation carries the SameSite=Lax session cookie) answers 403 before it
// spends one of the day's three exports, records anything or mails the person; the dashboard's
// own same-origin request and a typed URL work.
func TestExportRefusesCrossSiteRequests(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		ann := e.browser()
		e.authorizeCode(ann, "ann@example.com")
		annUser, _ := e.srv.identity.UserByEmail(ctx, "ann@example.com")
		export := func(site string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, e.base+"/api/account/export", nil)
			if site != "" {
				req.Header.Set("Sec-Fetch-Site", site)
			}
			resp, err := ann.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for i := 0; i < 5; i++ {
			for _, site := range []string{"cross-site", "same-site"} {
				if st, body := export(site); st != http.StatusForbidden || !strings.Contains(body, `"cross_site_request"`) || strings.Contains(body, "ann@example.com") {
					t.Fatalf("Sec-Fetch-Site %s: %d %s", site, st, body)
				}
			}
		}
		if n := e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.DataExported)), activityevent.UserID(annUser.ID)).CountX(ctx); n != 0 {
			t.Fatalf("refused exports recorded %d events", n)
		}
		for i, site := range []string{"same-origin", "none", ""} {
			if st, body := export(site); st != http.StatusOK {
				t.Fatalf("export %d (Sec-Fetch-Site %q) = %d %s; the refused ones must not have spent the quota", i, site, st, body)
			}
		}
		for range 3 {
			if m := e.smtp.Next(t, 10*time.Second); !strings.Contains(m.Text, "copy of everything LoginSign holds") {
				t.Fatalf("unexpected mail %q", m.Text)
			}
		}
	})
}

// TestOldLinkPageHidesAddressFromOtherBrowsers: whoever holds an old sign-in link (a forwarded
// mail, a mail scanner, a shared computer's history, another device) does not learn its
// address from the link's error page: outside the browser that asked for it the page shows
// the address masked and asks for it to be typed (since stop 64; before, it asked for a new
// link with the old link itself). An unknown old link answers 400 and mails nobody.
func TestOldLinkPageHidesAddressFromOtherBrowsers(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		browser := func() *browser { b := e.browser(); b.CheckRedirect = noFollow; return b }
		const who = "hidden.person@example.com"
		masked := oauth.MaskEmail(who)
		if masked != "hi•••@example.com" {
			t.Fatalf("MaskEmail = %q", masked)
		}
		tok := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }
		asker := browser()
		if p := asker.post(e.base+"/login", url.Values{"email": {who}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d", p.StatusCode)
		}
		link, code := e.signInMail(who)
		if p := asker.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("code = %d %s", p.StatusCode, p.Body)
		}
		stranger := browser()
		p := stranger.get(link)
		if p.StatusCode != http.StatusGone || strings.Contains(p.Body, who) || strings.Contains(p.Body, "hidden.person") ||
			!strings.Contains(p.Body, masked) || !strings.Contains(p.Body, `id="new-link-form"`) {
			t.Fatalf("the used link's page in another browser = %d:\n%s", p.StatusCode, p.Body)
		}
		// Since stop 64 the stranger types the address: a new link from the old link itself
		// works only in the browser that asked for it
		// (TestAStrangersOldLinkCannotLeaveThisBrowserWaitingForTheirAccount).
		if strings.Contains(p.Body, `name="link"`) || !strings.Contains(p.Body, `name="email" value=""`) {
			t.Fatalf("the used link's page in another browser offers a new link by the old one:\n%s", p.Body)
		}
		if p := stranger.post(e.base+"/login", url.Values{"flow": {""}, "link": {tok(link)}}); p.StatusCode != http.StatusBadRequest || strings.Contains(p.Body, who) {
			t.Fatalf("new link from the old one in another browser = %d %q %s", p.StatusCode, p.Header.Get("Location"), p.Body)
		}
		// In the browser that asked, the page still prefills the address.
		if p := asker.get(link); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `value="`+who+`"`) {
			t.Fatalf("the used link's page in the asking browser = %d:\n%s", p.StatusCode, p.Body)
		}
		// A link that never existed sends nothing.
		before := e.smtp.Count()
		if p := stranger.post(e.base+"/login", url.Values{"link": {"lsml_unknown"}}); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown old link = %d", p.StatusCode)
		}
		// Mail goes out inside the request (mail.Send is synchronous) and the capture server
		// records a message before it accepts it: the count is final once the answer is here.
		if n := e.smtp.Count(); n != before {
			t.Fatalf("an unknown old link sent %d mails", n-before)
		}
	})
}

// TestSignInMailsPerAddressAreCappedPerDay: beyond the 15-minute limit, one address receives at
// most LoginPerAddressDay sign-in mails a day however many IPs ask (here the 15-minute and IP
// limits are lifted and the day cap is 3): the next request answers 429 and mails nothing,
// the same whether or not the address has an account; another address is unaffected.
func TestSignInMailsPerAddressAreCappedPerDay(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		wide := oauth.Limit{N: 1000, Window: time.Minute}
		e.srv.oauth.Config.Limits.LoginPerAddress, e.srv.oauth.Config.Limits.LoginPerIP = wide, wide
		e.srv.oauth.Config.Limits.LoginPerAddressDay = oauth.Limit{N: 3, Window: 24 * time.Hour}
		for _, victim := range []string{"dev@example.com", "nobody-yet@example.com"} {
			for i := 0; i < 3; i++ {
				if p := e.browser().post(e.base+"/login", url.Values{"email": {victim}}); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "sent-to") {
					t.Fatalf("%s request %d = %d", victim, i+1, p.StatusCode)
				}
				e.signInMail(victim)
			}
			before := e.smtp.Count()
			p := e.browser().post(e.base+"/login", url.Values{"email": {victim}})
			if p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
				t.Fatalf("%s request 4 = %d", victim, p.StatusCode)
			}
			if e.smtp.Count() != before { // final: see TestOldLinkPageHidesAddressFromOtherBrowsers
				t.Fatalf("%s: a refused request sent mail", victim)
			}
		}
		if p := e.browser().post(e.base+"/login", url.Values{"email": {"someone.else@example.com"}}); p.StatusCode != http.StatusOK {
			t.Fatalf("another address = %d", p.StatusCode)
		}
	})
}

// TestConsentAliasClaimRules: the relay address the consent page proposes is claimed only while
// it is free; a second person shown the same proposal (a race) gets a fresh address, never a
// shared one, and a proposal outside the relay domain (a forged flow) is never claimed.
func TestConsentAliasClaimRules(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		relay := e.srv.oauth.Config.RelayDomain
		proposed, err := connections.ProposeAlias(ctx, e.srv.db.Client, relay)
		if err != nil || !strings.HasSuffix(proposed, "@"+relay) {
			t.Fatalf("ProposeAlias = %q %v", proposed, err)
		}
		claim := func(who, alias string) *ent.AppConnection {
			t.Helper()
			u, _, err := e.srv.identity.EnsureUser(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			var c *ent.AppConnection
			if err := e.srv.db.Tx(ctx, func(tx *ent.Tx) error {
				c, err = connections.CreateWithAlias(ctx, tx, u.ID, e.app.ID, relay, alias, time.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return c
		}
		if c := claim("alias.one@example.com", proposed); c.AliasEmail != proposed {
			t.Fatalf("a free proposal was not claimed: %q, proposed %q", c.AliasEmail, proposed)
		}
		if c := claim("alias.two@example.com", proposed); c.AliasEmail == proposed || !strings.HasSuffix(c.AliasEmail, "@"+relay) {
			t.Fatalf("a taken proposal was claimed again: %q", c.AliasEmail)
		}
		if c := claim("alias.three@example.com", "alias.one@example.com"); c.AliasEmail == "alias.one@example.com" || !strings.HasSuffix(c.AliasEmail, "@"+relay) {
			t.Fatalf("a proposal outside the relay domain was claimed: %q", c.AliasEmail)
		}
	})
}
