package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplyNamesNoHostOfThePersonsNetwork19: since stop 64 a reply's Content-Location and
// Content-Base lost a local file or network share, but kept every http(s) address, and a page
// saved from the person's intranet, or an image an HTML editor took from it, names its host:
// "http://intranet.corp.local/hr/…", "http://10.0.0.5/…", "http://wiki/…". The contact learned
// the person's employer's network, its host names and addresses, and could fetch nothing there.
// Now an http(s) location goes unless its host is a name under an ICANN top-level domain or a
// public IP address, without a user name or password; such a web address stays.
func TestAReplyNamesNoHostOfThePersonsNetwork19(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		intranet := []string{
			"http://intranet.corp.local/hr/payslip.png",
			"HTTPS://INTRANET.CORP.LOCAL./logo.png",
			"http://10.0.0.5/intranet/logo.png",
			"http://[fd00::5]/intranet/logo.png",
			"http://[fe80::1%25eth0]/intranet/logo.png",
			"http://100.64.1.2/intranet/logo.png",
			"http://0x0a000005/intranet/logo.png",
			"http://intranet/logo.png",
			"http://intranet.internal/logo.png",
			"http://router.home.arpa/logo.png",
			"http:/intranet.lan/logo.png",
			"https://user:secret@cdn.example.com/intranet.png",
			"http://intranet.corp.local\r\n /folded.png",
		}
		public := []string{"https://cdn.example.com/logo.png", "http://93.184.215.14/logo.png", "https://xn--e1afmkfd.xn--p1ai/logo.png", "https://пример.рф/logo.png"}
		var parts strings.Builder
		for _, loc := range append(append([]string{}, intranet...), public...) {
			parts.WriteString("--b\r\nContent-Type: image/png\r\nContent-Location: " + loc + "\r\nContent-Base: " + loc + "\r\n\r\npng\r\n")
		}
		parts.WriteString("--b--\r\n")
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: the page\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/related; boundary=b\r\n\r\n" + parts.String())
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		raw := f.out.Next(t, 5*time.Second).Data
		lower := strings.ToLower(string(raw))
		for _, leak := range []string{"intranet", "10.0.0.5", "fd00", "fe80", "100.64", "0x0a", "secret"} {
			if strings.Contains(lower, leak) {
				t.Errorf("the reply names %q of the person's network:\n%s", leak, raw)
			}
		}
		got := replyPartHeaders(t, raw)
		if len(got) != len(intranet)+len(public) {
			t.Fatalf("the reply has %d parts, want %d:\n%s", len(got), len(intranet)+len(public), raw)
		}
		for i, loc := range public {
			h := got[len(intranet)+i]
			if h.Get("Content-Location") != loc || h.Get("Content-Base") != loc {
				t.Errorf("a public location became %q and %q, want %q kept", h.Get("Content-Location"), h.Get("Content-Base"), loc)
			}
		}

		single := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: one page\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/html\r\nContent-Base: http://intranet.corp.local/wiki/\r\n\r\n<p>the page</p>\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, single); err != nil {
			t.Fatalf("reply: %v", err)
		}
		if raw := f.out.Next(t, 5*time.Second).Data; strings.Contains(string(raw), "intranet") {
			t.Errorf("a reply of one part names a host of the person's network:\n%s", raw)
		}
	})
}
