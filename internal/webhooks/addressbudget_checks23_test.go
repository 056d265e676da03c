package webhooks_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent/webhookevent"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// rebinder is a receiver name's DNS as its owner runs it: each lookup answers the next entry
// of answers (the last one again once they run out).
type rebinder struct {
	mu      sync.Mutex
	answers [][]string
	n       int
}

func (r *rebinder) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	as := r.answers[min(r.n, len(r.answers)-1)]
	r.n++
	var out []net.IPAddr
	for _, a := range as {
		out = append(out, net.IPAddr{IP: netip.MustParseAddr(a).AsSlice()})
	}
	return out, nil
}

// addressBudgetSetup is an application whose webhook URL names host at the port of a test
// receiver listening on 127.0.0.1, a worker looking host up with r, and the webhooks service
// counting the addresses of test events and redeliveries against a budget of n new delivery
// targets a day (portal.Service.TakeDeliveryAddress).
func addressBudgetSetup(t *testing.T, r webhooks.Resolver, n int) (*fixture, *receiver, *webhooks.Service) {
	t.Helper()
	db := storetest.SQLite(t)
	rcv := newReceiver(t)
	_, port, _ := net.SplitHostPort(rcv.Listener.Addr().String())
	f := newFixture(t, db, "http://receiver.checks23.example:"+port+"/hook")
	kv, _ := kvtest.EmbeddedClock(t)
	targets := portal.DefaultDeliveryTargets
	targets.N = n
	ps := &portal.Service{DB: db, Limiter: ratelimit.New(kv), DeliveryTargets: targets, Now: f.clock.Now}
	w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Resolver = r })
	return f, rcv, &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now, DeliveryAddresses: ps.TakeDeliveryAddress}
}

// TestARebindingNameCannotProbeMoreAddressesThanTheBudgetOfNewHosts: the budget of new
// delivery hosts (20 a day) counted a webhook URL's host name once, whatever it resolved to,
// so a developer whose DNS answered the name with another address at each lookup probed one
// port of any number of hosts with test events and redeliveries (300 an hour). Each address
// a manual send connects to now counts too: past the budget the attempt connects nowhere
// and its log says why. (Dev mode lets loopback addresses stand for third-party ones; the
// receiver listens on the third address the name is answered with.)
func TestARebindingNameCannotProbeMoreAddressesThanTheBudgetOfNewHosts(t *testing.T) {
	t.Parallel()
	r := &rebinder{answers: [][]string{{"127.0.0.2"}, {"127.0.0.3"}, {"127.0.0.1"}}}
	f, rcv, svc := addressBudgetSetup(t, r, 2)
	dev := signedIn(f.owner)

	var first string
	for i := range 3 {
		ev, err := svc.Test(dev, f.app.ID)
		if err != nil {
			t.Fatalf("test event %d: %v", i+1, err)
		}
		if i == 0 {
			first = ev.ID
		}
		if i < 2 && (ev.Status != webhookevent.StatusFailed || !strings.Contains(ev.LastError, "refused")) {
			t.Fatalf("test event %d, to an address where nothing listens: %s %q", i+1, ev.Status, ev.LastError)
		}
		if i == 2 && !strings.Contains(ev.LastError, "too many new receiver addresses") {
			t.Errorf("test event 3, to a third address past a budget of 2: %s %q, want it not sent for the budget", ev.Status, ev.LastError)
		}
	}
	if n := len(rcv.Hits()); n != 0 {
		t.Fatalf("the receiver at the third address the name resolved to got %d requests; the budget allows 2 addresses", n)
	}
	ev, err := svc.Redeliver(dev, f.app.ID, first)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.Hits()); n != 0 || !strings.Contains(ev.LastError, "too many new receiver addresses") {
		t.Errorf("a redelivery to the third address: %d requests, log %q; want none, for the budget", n, ev.LastError)
	}
	if r.n < 4 {
		t.Errorf("the name was looked up %d times, want one per send", r.n)
	}
}

// TestAReceiverBehindSeveralAddressesKeepsGettingTestEvents: a receiver whose name resolves
// to the same few addresses in changing order (a load balancer) spends one count per address
// once a day, and every test event reaches it.
func TestAReceiverBehindSeveralAddressesKeepsGettingTestEvents(t *testing.T) {
	t.Parallel()
	// 127.0.0.5 stands for a node that is down: the dialer goes on to the next address.
	r := &rebinder{answers: [][]string{{"127.0.0.1", "127.0.0.5"}, {"127.0.0.5", "127.0.0.1"}, {"127.0.0.1", "127.0.0.5"},
		{"127.0.0.5", "127.0.0.1"}, {"127.0.0.1", "127.0.0.5"}, {"127.0.0.5", "127.0.0.1"}}}
	f, rcv, svc := addressBudgetSetup(t, r, 2)
	dev := signedIn(f.owner)
	for i := range 6 {
		ev, err := svc.Test(dev, f.app.ID)
		if err != nil || ev.Status != webhookevent.StatusDelivered {
			t.Fatalf("test event %d: %v %v %q", i+1, err, ev.Status, ev.LastError)
		}
		f.clock.Advance(time.Minute)
	}
	if n := len(rcv.Hits()); n != 6 {
		t.Errorf("the receiver got %d of 6 test events", n)
	}
}
