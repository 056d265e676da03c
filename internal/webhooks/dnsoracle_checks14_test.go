package webhooks_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"

	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// loopbackName returns a host name (not localhost) that this machine's resolver maps to
// addresses outside PublicAddr only, as an internal name of LoginSign's network would be
// (db.internal → 10.0.0.5); the test is skipped where there is none.
func loopbackName(t *testing.T) string {
	t.Helper()
	candidates := []string{"vm", "runsc", "ip6-localhost", "ip6-loopback"}
	if h, err := os.Hostname(); err == nil {
		candidates = append(candidates, h)
	}
	for _, name := range candidates {
		addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", name)
		if err != nil || len(addrs) == 0 {
			continue
		}
		private := true
		for _, a := range addrs {
			private = private && !webhooks.PublicAddr(a)
		}
		if private {
			return name
		}
	}
	t.Skip("no name of this machine resolves to a private address only")
	return ""
}

// missingName does not resolve anywhere (RFC 6761 §6.4).
const missingName = "no-such-receiver-checks14.invalid"

// TestSaveTimeCheckAnswersAnInternalNameAsAMissingOne: saving a webhook URL looked its host up
// and refused a name resolving to a private address ("db.internal resolves only to private or
// loopback addresses", 400) but accepted a name that does not resolve: a developer learnt,
// one request per name, which internal names of LoginSign's network exist. Both now get the
// same answer (the delivery dialer refuses the private one at each connection), while IP
// literals, localhost and numeric hosts are still refused at once.
func TestSaveTimeCheckAnswersAnInternalNameAsAMissingOne(t *testing.T) {
	t.Parallel()
	internal := loopbackName(t)
	errText := func(err error) string {
		if err == nil {
			return "<accepted>"
		}
		return err.Error()
	}
	gotInternal := errText(webhooks.CheckTarget(context.Background(), "https://"+internal+"/hook", false))
	gotMissing := errText(webhooks.CheckTarget(context.Background(), "https://"+missingName+"/hook", false))
	if gotInternal != gotMissing {
		t.Errorf("an internal name (%s) is answered %q, a missing one %q: the answer tells them apart", internal, gotInternal, gotMissing)
	}
	for _, u := range []string{"https://localhost/hook", "https://LocalHost./hook", "https://db.localhost/hook",
		"https://127.1/hook", "https://2130706433/hook", "https://0x7f.0.0.1/hook", "https://127.0.0.1./hook"} {
		if err := webhooks.CheckTarget(context.Background(), u, false); err == nil {
			t.Errorf("CheckTarget(%s) accepted a loopback target", u)
		}
	}
}

// TestDeliveryLogAnswersAnInternalNameAsAMissingOne: the delivery log, which the developer
// reads (and a ping answers at once), said "refused: the webhook URL resolves to a private or
// loopback address" for a name of LoginSign's network and "DNS: no such host …" for a name
// that does not exist: the same map of internal names, through the delivery log instead of
// the settings form. Both now read webhooks.UnreachableHost; the receiver gets nothing.
func TestDeliveryLogAnswersAnInternalNameAsAMissingOne(t *testing.T) {
	t.Parallel()
	internal := loopbackName(t)
	rcv := newReceiver(t)
	port := strconv.Itoa(rcv.Listener.Addr().(*net.TCPAddr).Port)
	db := storetest.SQLite(t)
	f := newFixture(t, db, rcv.URL)
	strict := f.worker(db, func(c *webhooks.WorkerConfig) { c.AllowPrivate = false })
	internalApp, _ := f.newApp(t, "http://"+internal+":"+port+"/hook")
	missingApp, _ := f.newApp(t, "http://"+missingName+":"+port+"/hook")
	toInternal := f.enqueue(t, internalApp, 1)[0]
	toMissing := f.enqueue(t, missingApp, 1)[0]
	drain(t, strict)
	a, b := f.event(t, toInternal), f.event(t, toMissing)
	if a.LastError != b.LastError || a.Status != b.Status || a.Attempts != b.Attempts {
		t.Errorf("an internal name's delivery: %s, %d attempts, %q; a missing name's: %s, %d attempts, %q: the log tells them apart",
			a.Status, a.Attempts, a.LastError, b.Status, b.Attempts, b.LastError)
	}
	if a.LastError != webhooks.UnreachableHost {
		t.Errorf("last error %q, want %q", a.LastError, webhooks.UnreachableHost)
	}
	if n := len(rcv.Hits()); n != 0 {
		t.Errorf("the loopback receiver got %d requests outside dev mode", n)
	}
}
