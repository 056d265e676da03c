package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"loginsign/ent/webhookevent"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestLoopbackWrittenInOtherFormsReceivesNothingOutsideDevMode: a developer whose webhook URL
// names the loopback receiver in a form a URL parser or resolver may read as 127.0.0.1
// (decimal, octal, hexadecimal, shortened, IPv4-mapped IPv6 in full or hex, NAT64, a trailing
// dot, credentials before the host, a name in capitals) gets no request through outside dev
// mode: each event's attempt fails and the receiver sees nothing.
func TestLoopbackWrittenInOtherFormsReceivesNothingOutsideDevMode(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	p := strconv.Itoa(int(rcv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()))
	forms := []string{
		"http://2130706433:" + p + "/",
		"http://0177.0.0.1:" + p + "/",
		"http://0x7f.0.0.1:" + p + "/",
		"http://0x7f000001:" + p + "/",
		"http://127.1:" + p + "/",
		"http://127.0.1:" + p + "/",
		"http://[0:0:0:0:0:ffff:127.0.0.1]:" + p + "/",
		"http://[::ffff:7f00:1]:" + p + "/",
		"http://[64:ff9b::7f00:1]:" + p + "/",
		"http://127.0.0.1.:" + p + "/",
		"http://localhost.:" + p + "/",
		"http://LOCALHOST:" + p + "/",
		"http://93.184.215.14@127.0.0.1:" + p + "/",
		"http://[::1]:" + p + "/",
	}
	db := storetest.SQLite(t)
	f := newFixture(t, db, rcv.URL)
	strict := f.worker(db, func(c *webhooks.WorkerConfig) { c.AllowPrivate = false })
	var ids []string
	for _, u := range forms {
		app, _ := f.newApp(t, u)
		ids = append(ids, f.enqueue(t, app, 1)[0])
	}
	drain(t, strict)
	for i, id := range ids {
		ev := f.event(t, id)
		if ev.Status == webhookevent.StatusDelivered || ev.Attempts != 1 || ev.LastError == "" {
			t.Errorf("%s: status %s, attempts %d, last error %q; want one failed attempt", forms[i], ev.Status, ev.Attempts, ev.LastError)
		}
	}
	if n := len(rcv.Hits()); n != 0 {
		t.Errorf("the loopback receiver got %d requests outside dev mode", n)
	}
}

// TestSaveTimeCheckRefusesMetadataAndLoopbackInEmbeddedForms: the save-time check refuses
// the cloud metadata and loopback addresses in IPv6 forms that carry them (IPv4-mapped in
// full or hex, NAT64, 6to4, IPv4-translated), zoned link-local addresses, the IPv6 metadata
// address of EC2 (a unique local address), Alibaba's metadata address (CGNAT range), and a
// URL whose credentials name a public host before a loopback one.
func TestSaveTimeCheckRefusesMetadataAndLoopbackInEmbeddedForms(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"https://[::ffff:169.254.169.254]/",
		"https://[::ffff:a9fe:a9fe]/",
		"https://[0:0:0:0:0:ffff:7f00:1]/",
		"https://[64:ff9b::a9fe:a9fe]/",
		"https://[64:ff9b::7f00:1]/",
		"https://[2002:a9fe:a9fe::1]/",
		"https://[::ffff:0:a9fe:a9fe]/",
		"https://[fe80::1%25eth0]/",
		"https://[fd00:ec2::254]/",
		"https://100.100.100.200/",
		"https://93.184.215.14@127.0.0.1/",
		"https://127.0.0.1#@93.184.215.14/",
		"https://0.0.0.0/",
	} {
		if err := webhooks.CheckTarget(context.Background(), u, false); !errors.Is(err, webhooks.ErrForbiddenTarget) {
			t.Errorf("CheckTarget(%s) = %v, want ErrForbiddenTarget", u, err)
		}
	}
}

// TestARedirectToAnotherLoopbackReceiverIsNotFollowed: a receiver that answers 307 with a
// Location on another host gets a failed attempt; the redirect's target receives nothing,
// whatever the status (301, 302, 303, 307, 308).
func TestARedirectToAnotherLoopbackReceiverIsNotFollowed(t *testing.T) {
	t.Parallel()
	target := newReceiver(t)
	for _, status := range []int{301, 302, 303, 307, 308} {
		front := newReceiver(t)
		front.setAnswer(func(hit, int) (int, http.Header) {
			return status, http.Header{"Location": {target.URL + "/internal"}}
		})
		db := storetest.SQLite(t)
		f := newFixture(t, db, front.URL)
		id := f.enqueue(t, f.app, 1)[0]
		drain(t, f.worker(db))
		if ev := f.event(t, id); ev.Status == webhookevent.StatusDelivered || ev.Attempts != 1 {
			t.Errorf("%d: status %s after %d attempts, want a failed attempt", status, ev.Status, ev.Attempts)
		}
		if n := len(front.Hits()); n != 1 {
			t.Errorf("%d: the receiver got %d requests, want 1", status, n)
		}
	}
	if n := len(target.Hits()); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
}
