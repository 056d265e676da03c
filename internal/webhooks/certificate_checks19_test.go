package webhooks_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// internalTLSReceiver is an HTTPS endpoint whose certificate is one of a private network's
// (names and an address of LoginSign's own network, issued by its own authority, not trusted
// here), valid from notBefore to notAfter, and that names 127.0.0.1 only when withLoopback.
func internalTLSReceiver(t *testing.T, withLoopback bool, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(19),
		Subject:      pkix.Name{CommonName: "vault.corp-checks19.internal", Organization: []string{"Corp Internal CA checks19"}},
		Issuer:       pkix.Name{CommonName: "Corp Internal CA checks19"},
		NotBefore:    notBefore, NotAfter: notAfter,
		DNSNames:    []string{"vault.corp-checks19.internal", "admin.corp-checks19.internal"},
		IPAddresses: []net.IP{net.ParseIP("10.9.8.7")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if withLoopback {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP("127.0.0.1"))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// TestDeliveryLogDoesNotShowTheReceiversCertificate19: an HTTPS receiver whose certificate
// the delivery could not verify had the verifier's words quoted in the delivery log: "x509:
// certificate is valid for vault.corp.internal, admin.corp.internal, 10.0.3.7, not …", or its
// dates. A webhook URL naming the address of a TLS service that answers only LoginSign's own
// addresses showed the developer the names and addresses its certificate holds, as the
// banners of other services did before stop 57. The log now says what is wrong with the
// certificate, not what it holds.
func TestDeliveryLogDoesNotShowTheReceiversCertificate19(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, c := range []struct {
		name         string
		withLoopback bool
		from, until  time.Time
		want         string
	}{
		{"another host's", false, now.Add(-time.Hour), now.Add(24 * time.Hour),
			"the receiver's TLS certificate is not valid for the URL's host"},
		{"expired", true, now.Add(-48 * time.Hour), now.Add(-24 * time.Hour),
			"the receiver's TLS certificate has expired or is not yet valid"},
		{"untrusted", true, now.Add(-time.Hour), now.Add(24 * time.Hour),
			"the receiver's TLS certificate is not signed by a trusted authority"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := storetest.SQLite(t)
			u := internalTLSReceiver(t, c.withLoopback, c.from, c.until)
			if !c.withLoopback {
				// A name the certificate does not hold: the verifier listed the names it holds.
				u = strings.Replace(u, "127.0.0.1", "hooks.checks19.example", 1)
			}
			f := newFixture(t, db, u)
			id := f.enqueue(t, f.app, 1)[0]
			resolver := newFakeResolver(map[string][]string{"hooks.checks19.example": {"127.0.0.1"}})
			drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Resolver = resolver }))
			ev := f.event(t, id)
			texts := []string{ev.LastError}
			for _, a := range ev.Edges.Deliveries {
				texts = append(texts, a.Error)
			}
			for _, s := range texts {
				if strings.Contains(s, "checks19") || strings.Contains(s, "10.9.8.7") || strings.Contains(s, "x509") {
					t.Errorf("the delivery log shows the receiver's certificate: %q", s)
				}
			}
			if ev.Status == "delivered" || ev.LastError != c.want {
				t.Errorf("status %s, last error %q; want %q", ev.Status, ev.LastError, c.want)
			}
		})
	}
}
