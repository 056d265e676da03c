package webhooks_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// fakeResolver answers the names it knows with their addresses and any other as a name that
// does not exist; it counts the lookups of each name.
type fakeResolver struct {
	addrs   map[string][]string
	mu      sync.Mutex
	lookups map[string]int
}

func newFakeResolver(addrs map[string][]string) *fakeResolver {
	return &fakeResolver{addrs: addrs, lookups: map[string]int{}}
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	r.lookups[host]++
	r.mu.Unlock()
	as, ok := r.addrs[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, a := range as {
		out = append(out, net.IPAddr{IP: netip.MustParseAddr(a).AsSlice()})
	}
	return out, nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

// internalName stands for a name of LoginSign's own network (db.internal → 10.0.0.5); the
// fake resolver answers it with the loopback address the test receiver listens on, so a
// delivery the dialer let through would reach the receiver.
const internalName = "db.internal.checks15.example"

// missingName does not resolve anywhere (RFC 6761 §6.4).
const missingName = "no-such-receiver-checks15.invalid"

// TestSaveTimeCheckAnswersAnInternalNameAsAMissingOne: saving a webhook URL looked its host up
// and refused a name resolving to a private address ("db.internal resolves only to private or
// loopback addresses", 400) but accepted a name that does not resolve: a developer learnt,
// one request per name, which internal names of LoginSign's network exist. Both now get the
// same answer (the delivery dialer refuses the private one at each connection), while IP
// literals, localhost and numeric hosts are still refused at once. (It skipped on a machine
// where no local name resolved to private addresses only; the save-time check looks nothing
// up, so a made-up name stands for an internal one.)
func TestSaveTimeCheckAnswersAnInternalNameAsAMissingOne(t *testing.T) {
	t.Parallel()
	errText := func(err error) string {
		if err == nil {
			return "<accepted>"
		}
		return err.Error()
	}
	gotInternal := errText(webhooks.CheckTarget(context.Background(), "https://"+internalName+"/hook", false))
	gotMissing := errText(webhooks.CheckTarget(context.Background(), "https://"+missingName+"/hook", false))
	if gotInternal != gotMissing {
		t.Errorf("an internal name (%s) is answered %q, a missing one %q: the answer tells them apart", internalName, gotInternal, gotMissing)
	}
	for _, u := range []string{"https://localhost/hook", "https://LocalHost./hook", "https://db.localhost/hook",
		"https://127.1/hook", "https://2130706433/hook", "https://0x7f.0.0.1/hook", "https://127.0.0.1./hook",
		"https://[::ffff:127.0.0.1]/hook", "https://[::ffff:10.0.0.5]/hook", "https://[::127.0.0.1]/hook"} {
		if err := webhooks.CheckTarget(context.Background(), u, false); err == nil {
			t.Errorf("CheckTarget(%s) accepted a loopback or private target", u)
		}
	}
}

// TestDeliveryLogAnswersAnInternalNameAsAMissingOne: the delivery log, which the developer
// reads (and a ping answers at once), said "refused: the webhook URL resolves to a private or
// loopback address" for a name of LoginSign's network and "DNS: no such host …" for a name
// that does not exist: the same map of internal names, through the delivery log instead of
// the settings form. Both now read webhooks.UnreachableHost; the receiver gets nothing. The
// worker looks names up with WorkerConfig.Resolver, so the test no longer depends on (and
// skips without) a local name resolving to a private address.
func TestDeliveryLogAnswersAnInternalNameAsAMissingOne(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	port := strconv.Itoa(rcv.Listener.Addr().(*net.TCPAddr).Port)
	db := storetest.SQLite(t)
	f := newFixture(t, db, rcv.URL)
	res := newFakeResolver(map[string][]string{
		internalName: {"127.0.0.1"},
		// Each address is judged where it is connected to: every one a name answers (a
		// documentation address, then loopback), and an IPv4-mapped form by what it carries.
		"mixed.checks15.example":  {"192.0.2.1", "127.0.0.1"},
		"mapped.checks15.example": {"::ffff:127.0.0.1"},
	})
	strict := f.worker(db, func(c *webhooks.WorkerConfig) { c.AllowPrivate = false; c.Resolver = res })
	internalApp, _ := f.newApp(t, "http://"+internalName+":"+port+"/hook")
	missingApp, _ := f.newApp(t, "http://"+missingName+":"+port+"/hook")
	mixedApp, _ := f.newApp(t, "http://mixed.checks15.example:"+port+"/hook")
	mappedApp, _ := f.newApp(t, "http://mapped.checks15.example:"+port+"/hook")
	toInternal := f.enqueue(t, internalApp, 1)[0]
	toMissing := f.enqueue(t, missingApp, 1)[0]
	toMixed := f.enqueue(t, mixedApp, 1)[0]
	toMapped := f.enqueue(t, mappedApp, 1)[0]
	drain(t, strict)
	if res.count(internalName) == 0 || res.count(missingName) == 0 {
		t.Fatalf("the worker did not look the receivers' names up with WorkerConfig.Resolver (%v)", res.lookups)
	}
	a, b := f.event(t, toInternal), f.event(t, toMissing)
	if a.LastError != b.LastError || a.Status != b.Status || a.Attempts != b.Attempts {
		t.Errorf("an internal name's delivery: %s, %d attempts, %q; a missing name's: %s, %d attempts, %q: the log tells them apart",
			a.Status, a.Attempts, a.LastError, b.Status, b.Attempts, b.LastError)
	}
	if a.LastError != webhooks.UnreachableHost {
		t.Errorf("last error %q, want %q", a.LastError, webhooks.UnreachableHost)
	}
	if ev := f.event(t, toMapped); ev.LastError != webhooks.UnreachableHost {
		t.Errorf("an IPv4-mapped loopback address: last error %q, want %q", ev.LastError, webhooks.UnreachableHost)
	}
	if ev := f.event(t, toMixed); ev.Attempts != 1 || ev.Status == "delivered" {
		t.Errorf("a name resolving to a public and a loopback address: %s after %d attempts", ev.Status, ev.Attempts)
	}
	if n := len(rcv.Hits()); n != 0 {
		t.Errorf("the loopback receiver got %d requests outside dev mode", n)
	}
}

// TestDevModeDeliversThroughTheConfiguredResolver: in dev mode the same resolver is used, and
// a name it answers with the receiver's loopback address is delivered to.
func TestDevModeDeliversThroughTheConfiguredResolver(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	port := strconv.Itoa(rcv.Listener.Addr().(*net.TCPAddr).Port)
	db := storetest.SQLite(t)
	f := newFixture(t, db, rcv.URL)
	res := newFakeResolver(map[string][]string{"dev.checks15.example": {"127.0.0.1"}})
	w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Resolver = res })
	app, _ := f.newApp(t, "http://dev.checks15.example:"+port+"/hook")
	id := f.enqueue(t, app, 1)[0]
	drain(t, w)
	if ev := f.event(t, id); ev.Status != "delivered" || len(rcv.Hits()) != 1 {
		t.Errorf("dev mode through the resolver: %s (%q), %d requests received, want delivered once", ev.Status, ev.LastError, len(rcv.Hits()))
	}
}

// slowResolver is a fakeResolver that takes a while to answer the names it does not know,
// as a recursive search for a name that does not exist does, while it answers the names of
// LoginSign's own network at once.
type slowResolver struct{ *fakeResolver }

func (r slowResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if _, ok := r.addrs[host]; !ok {
		time.Sleep(40 * time.Millisecond)
	}
	return r.fakeResolver.LookupIPAddr(ctx, host)
}

// TestDeliveryLogDurationDoesNotTellAnInternalNameFromAMissingOne: the attempts of both were
// logged with the same error (UnreachableHost) but with how long they took, lookup included,
// which the delivery log shows (durationMs): an internal name, answered at once by
// LoginSign's resolver, read 0 ms and a missing one the time of a recursive search. An
// attempt that reached no receiver is now logged with no duration.
func TestDeliveryLogDurationDoesNotTellAnInternalNameFromAMissingOne(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	port := strconv.Itoa(rcv.Listener.Addr().(*net.TCPAddr).Port)
	db := storetest.SQLite(t)
	f := newFixture(t, db, rcv.URL)
	res := slowResolver{newFakeResolver(map[string][]string{internalName: {"10.0.0.5"}})}
	strict := f.worker(db, func(c *webhooks.WorkerConfig) { c.AllowPrivate = false; c.Resolver = res })
	internalApp, _ := f.newApp(t, "http://"+internalName+":"+port+"/hook")
	missingApp, _ := f.newApp(t, "http://"+missingName+":"+port+"/hook")
	toInternal := f.enqueue(t, internalApp, 1)[0]
	toMissing := f.enqueue(t, missingApp, 1)[0]
	drain(t, strict)
	a, b := f.event(t, toInternal), f.event(t, toMissing)
	if len(a.Edges.Deliveries) != 1 || len(b.Edges.Deliveries) != 1 {
		t.Fatalf("attempts logged: %d and %d, want 1 each", len(a.Edges.Deliveries), len(b.Edges.Deliveries))
	}
	da, db2 := a.Edges.Deliveries[0].DurationMs, b.Edges.Deliveries[0].DurationMs
	if da != db2 || da != 0 {
		t.Errorf("an internal name's attempt is logged as taking %d ms, a missing name's %d ms: want 0 for both (no receiver reached)", da, db2)
	}
}
