package webhooks_test

import (
	"net"
	"strings"
	"testing"

	"loginsign/internal/store/storetest"
)

// TestDeliveryLogDoesNotShowTheBannerOfANonHTTPService: a webhook URL naming the port of a
// service that does not speak HTTP (SSH, SMTP, IMAP over TLS…) got its greeting quoted in the
// delivery log ("malformed HTTP response \"SSH-2.0-OpenSSH_…\""): a developer read the banners
// of services that may answer only LoginSign's own addresses. The log now says the answer is
// not HTTP, without its bytes.
func TestDeliveryLogDoesNotShowTheBannerOfANonHTTPService(t *testing.T) {
	t.Parallel()
	const banner = "SSH-2.0-OpenSSH_9.6 internal-bastion-checks15"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(banner + "\r\n"))
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Close()
		}
	}()
	db := storetest.SQLite(t)
	f := newFixture(t, db, "http://"+ln.Addr().String()+"/hook")
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db))
	ev := f.event(t, id)
	if ev.Status == "delivered" {
		t.Fatal("a non-HTTP answer counted as delivered")
	}
	texts := []string{ev.LastError}
	for _, a := range ev.Edges.Deliveries {
		texts = append(texts, a.Error)
	}
	for _, s := range texts {
		if strings.Contains(s, "internal-bastion") || strings.Contains(s, "SSH-2.0") {
			t.Errorf("the delivery log shows the service's banner: %q", s)
		}
	}
	if ev.LastError != "the answer is not HTTP" {
		t.Errorf("last error %q, want %q", ev.LastError, "the answer is not HTTP")
	}
}
