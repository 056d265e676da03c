package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"testing"
	"time"

	"loginsign/internal/kv/kvtest"
)

// TestRelayOffersSTARTTLS starts the server with a relay certificate: the relay advertises
// STARTTLS and completes the handshake with that certificate (mail from apps and the person's
// replies, which name their real address, cross the internet); a renewed certificate written
// over the files is served from the next connection, without a restart, and a replacement
// that does not load leaves the one in use.
func TestRelayOffersSTARTTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "relay.crt"), filepath.Join(dir, "relay.key")
	first := writeCertificate(t, certFile, keyFile, "first", time.Now().Add(-time.Hour))
	addr, relayAddr := loopbackAddr(t), loopbackAddr(t)
	e := env(map[string]string{
		"LOGINSIGN_ADDR": addr, "LOGINSIGN_RELAY_ADDR": relayAddr, "LOGINSIGN_METRICS_ADDR": "off",
		"LOGINSIGN_RELAY_TLS_CERT": certFile, "LOGINSIGN_RELAY_TLS_KEY": keyFile,
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "db.sqlite"), "LOGINSIGN_DATA_DIR": dir,
		"REDIS_URL": kvtest.URL(t), "LOGINSIGN_LOG_LEVEL": "error",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{"serve"}, e, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()

	handshake := func(want *x509.Certificate) {
		t.Helper()
		var c *smtp.Client
		var err error
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if c, err = smtp.Dial(relayAddr); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("relay not listening: %v", err)
		}
		defer c.Close()
		if err := c.Hello("sender.example"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Fatal("the relay does not advertise STARTTLS")
		}
		roots := x509.NewCertPool()
		roots.AddCert(want)
		if err := c.StartTLS(&tls.Config{RootCAs: roots, ServerName: "relay.localhost"}); err != nil {
			t.Fatalf("STARTTLS with the certificate %q: %v", want.Subject.CommonName, err)
		}
		state, _ := c.TLSConnectionState()
		if got := state.PeerCertificates[0]; !got.Equal(want) || state.Version < tls.VersionTLS12 {
			t.Fatalf("the relay served %q over %x, want %q", got.Subject.CommonName, state.Version, want.Subject.CommonName)
		}
		c.Quit()
	}
	handshake(first)
	renewed := writeCertificate(t, certFile, keyFile, "renewed", time.Now())
	handshake(renewed)
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	handshake(renewed)
}

// writeCertificate writes a self-signed certificate for relay.localhost, named name, to the
// PEM files certFile and keyFile, modified at mod, and returns it.
func writeCertificate(t *testing.T, certFile, keyFile, name string, mod time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{"relay.localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// loopbackAddr is a loopback address no one listens on.
func loopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
