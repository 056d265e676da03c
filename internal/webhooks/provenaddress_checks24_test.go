package webhooks_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/ent/webhookevent"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAnHTTPSReceiverWhoseAddressesRotateKeepsGettingTestEvents (review24): each address a
// test event or redelivery connects to counts against the developer's budget of new delivery
// hosts (20 a day, URL hosts included), once a day per address. A receiver behind a CDN or a
// load balancer whose addresses rotate (a new one at many lookups, as CloudFront's or
// Heroku's do) met a new address at many of its tests and was refused past the budget,
// though every address served the developer's own name. An address that answers over TLS
// verified for the URL's host now gives its count back: a server that holds a certificate
// for the developer's name tells them nothing of anyone else's. Addresses that do not prove
// it (nothing listening, here) still count, and the budget still refuses past them.
func TestAnHTTPSReceiverWhoseAddressesRotateKeepsGettingTestEvents(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close") // each send dials (and counts) again
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// The same receiver on 127.0.0.2 to 127.0.0.5: one name's rotating addresses.
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, port))
		if err != nil {
			t.Fatal(err)
		}
		go srv.Config.Serve(tls.NewListener(l, srv.TLS))
		t.Cleanup(func() { l.Close() })
	}
	r := &rebinder{answers: [][]string{{"127.0.0.1"}, {"127.0.0.2"}, {"127.0.0.3"}, {"127.0.0.4"}, {"127.0.0.5"},
		{"127.0.0.6"}, {"127.0.0.7"}, {"127.0.0.8"}}}

	db := storetest.SQLite(t)
	// httptest's certificate is valid for example.com.
	f := newFixture(t, db, "https://example.com:"+port+"/hook")
	kv, _ := kvtest.EmbeddedClock(t)
	targets := portal.DefaultDeliveryTargets
	targets.N = 2
	ps := &portal.Service{DB: db, Limiter: ratelimit.New(kv), DeliveryTargets: targets, Now: f.clock.Now}
	client := webhooks.NewClientResolving(true, r)
	client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Client = client })
	svc := &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now,
		DeliveryAddresses: ps.TakeDeliveryAddress, ProvenAddresses: ps.GiveBackDeliveryAddress}
	dev := signedIn(f.owner)

	for i := range 5 {
		ev, err := svc.Test(dev, f.app.ID)
		if err != nil || ev.Status != webhookevent.StatusDelivered {
			t.Fatalf("test event %d, to the receiver's address 127.0.0.%d: %v %v %q", i+1, i+1, err, ev.Status, ev.LastError)
		}
	}
	// Addresses where nothing listens prove nothing: two are tried, the third is past the
	// budget of two.
	for i := 6; i <= 8; i++ {
		ev, err := svc.Test(dev, f.app.ID)
		if err != nil {
			t.Fatal(err)
		}
		refused := strings.Contains(ev.LastError, "too many new receiver addresses")
		if refused != (i == 8) {
			t.Errorf("test event to 127.0.0.%d, where nothing listens: %q; want it refused by the budget only past two", i, ev.LastError)
		}
	}
}
