package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
)

// A lone carriage return (no line feed) in a subject or an extra header is refused too: some
// mail software ends a header line at a bare CR.
func TestSendRefusesALoneCarriageReturnInAHeader(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	for name, m := range map[string]mail.Message{
		"subject": {To: "b@example.com", Subject: "hi\rBcc: victim@example.com", Text: "x"},
		"header":  {To: "b@example.com", Subject: "hi", Text: "x", Headers: map[string]string{"X-Tag": "a\rBcc: v@example.com"}},
	} {
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("%s: Send accepted a carriage return in a header", name)
		}
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

// A Reply-To that is not an address fails Send; it is not silently dropped.
func TestSendRefusesAMalformedReplyTo(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	for _, rt := range []string{"not an address", "help@app.test\r\nBcc: v@example.com"} {
		m := mail.Message{To: "b@example.com", ReplyTo: rt, Subject: "hi", Text: "x"}
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("Reply-To %q: Send = nil, want an error", rt)
		}
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

// An address of 254 characters is accepted, one of 255 is not (RFC 5321's path limit).
func TestNormalizeAddressLengthLimit(t *testing.T) {
	t.Parallel()
	domain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 60)
	ok := "x@" + domain
	if len(ok) != 254 {
		t.Fatalf("test address is %d characters", len(ok))
	}
	if got, err := mail.NormalizeAddress(ok); err != nil || got != ok {
		t.Fatalf("NormalizeAddress of 254 characters = %q, %v; want it accepted", got, err)
	}
	if got, err := mail.NormalizeAddress("xy@" + domain); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("NormalizeAddress of 255 characters = %d characters, %v; want Invalid", len(got), err)
	}
}

// A URL with a user and no password still authenticates (as that user, empty password).
func TestSMTPAuthenticatesAUserWithoutAPassword(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithAuth("mailer", ""))
	s := newSender(t, mail.Config{URL: "smtp://mailer@" + srv.Addr(), RetryDelays: []time.Duration{}})
	if err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if e := srv.Next(t, 5*time.Second); e.AuthUser != "mailer" {
		t.Fatalf("AuthUser = %q, want mailer", e.AuthUser)
	}
}

// Without a port an smtp URL means 587 (submission) and an smtps URL 465.
func TestSMTPDefaultPorts(t *testing.T) {
	t.Parallel()
	for url, port := range map[string]string{"smtp://127.0.0.1": "127.0.0.1:587", "smtps://127.0.0.1": "127.0.0.1:465"} {
		s := newSender(t, mail.Config{URL: url, RetryDelays: []time.Duration{}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Send(ctx, mail.VerifyEmail(i18n.English, "bob@example.com", link))
		cancel()
		if err == nil {
			t.Skipf("something accepts mail on %s here", port)
		}
		if !strings.Contains(err.Error(), port) {
			t.Errorf("%s: error %q does not name %s", url, err, port)
		}
	}
}

// A refused certificate is permanent even when it arrives inside a network error.
func TestIsTemporaryRefusedCertificateInANetworkError(t *testing.T) {
	t.Parallel()
	err := &net.OpError{Op: "remote error", Net: "tcp", Err: &tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")}}
	if mail.IsTemporary(err) {
		t.Fatalf("IsTemporary(%v) = true, want false", err)
	}
	if !mail.IsTemporary(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}) {
		t.Fatal("IsTemporary of a refused connection = false, want true")
	}
}

// The recipient digest in the log is of the lower-cased address: one mailbox, one digest,
// however its address is capitalised.
func TestLogDigestIgnoresTheAddressCase(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	s := newSender(t, mail.Config{
		OutboxDir: filepath.Join(t.TempDir(), "outbox"),
		Logger:    slog.New(slog.NewTextHandler(&log, nil)),
		LogKey:    []byte("checks3 log key"),
	})
	for _, to := range []string{"Ann@Example.com", "ann@example.com", "bob@example.com"} {
		if err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, to, link)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	rcpts := regexp.MustCompile(`rcpt=(\S+)`).FindAllStringSubmatch(log.String(), -1)
	if len(rcpts) != 3 || rcpts[0][1] != rcpts[1][1] || rcpts[0][1] == rcpts[2][1] {
		t.Fatalf("rcpt digests %q, want Ann@Example.com and ann@example.com alike and bob's another:\n%s", rcpts, log.String())
	}
}

// Credentials are never sent in clear text to a server that is not on loopback: a plain SMTP
// server offering AUTH PLAIN on a non-loopback address gets no AUTH command and no mail.
func TestSMTPRefusesToSendCredentialsWithoutTLSToARemoteServer(t *testing.T) {
	t.Parallel()
	ip := nonLoopbackIP(t)
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var seen []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				r := bufio.NewReader(c)
				c.Write([]byte("220 plain.test ESMTP\r\n"))
				inData := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					mu.Lock()
					seen = append(seen, strings.TrimSpace(line))
					mu.Unlock()
					cmd := strings.ToUpper(line)
					switch {
					case inData:
						if line == ".\r\n" {
							inData = false
							c.Write([]byte("250 queued\r\n"))
						}
					case strings.HasPrefix(cmd, "EHLO"):
						c.Write([]byte("250-plain.test\r\n250 AUTH PLAIN\r\n"))
					case strings.HasPrefix(cmd, "AUTH"):
						c.Write([]byte("235 2.7.0 accepted\r\n"))
					case strings.HasPrefix(cmd, "DATA"):
						inData = true
						c.Write([]byte("354 go on\r\n"))
					case strings.HasPrefix(cmd, "QUIT"):
						c.Write([]byte("221 bye\r\n"))
						return
					default:
						c.Write([]byte("250 ok\r\n"))
					}
				}
			}(c)
		}
	}()
	s := newSender(t, mail.Config{URL: "smtp://mailer:s3cret@" + l.Addr().String(), RetryDelays: []time.Duration{}})
	err = s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link))
	mu.Lock()
	defer mu.Unlock()
	wire := strings.Join(seen, "\n")
	if err == nil || strings.Contains(strings.ToUpper(wire), "AUTH") || strings.Contains(wire, "DATA") {
		t.Fatalf("plain SMTP to %s with credentials: Send = %v; the server saw:\n%s\nwant an error and no AUTH or DATA", l.Addr(), err, wire)
	}
}

// nonLoopbackIP is an IPv4 address of this machine that is not loopback; the test is skipped
// when there is none.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}
