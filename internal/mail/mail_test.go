package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
)

const link = "http://localhost:8080/login/magic?token=ml_abcDEF123-_xyz&next=%2Fdashboard"

// linkLine is how tools outside this repository find sign-in links in raw mail.
var linkLine = regexp.MustCompile(`(?m)^(https?://[^\s]+)\r?$`)

var fastRetries = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}

func newSender(t *testing.T, cfg mail.Config) mail.Sender {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "LoginSign <no-reply@loginsign.test>"
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = fastRetries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	s, err := mail.New(cfg)
	if err != nil {
		t.Fatalf("mail.New: %v", err)
	}
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSMTPDeliversTextAndHTMLWithExtractableLink(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})

	if err := s.Send(context.Background(), mail.MagicLink("Ann <ann@example.com>", link, "", "", 15*time.Minute)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	e := srv.Next(t, 5*time.Second)

	if got, want := e.From, "no-reply@loginsign.test"; got != want {
		t.Errorf("MAIL FROM = %q, want %q", got, want)
	}
	if got, want := strings.Join(e.To, ","), "ann@example.com"; got != want {
		t.Errorf("RCPT TO = %q, want %q", got, want)
	}
	if got, want := e.Subject, "Sign in to LoginSign"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if e.TLS {
		t.Errorf("message came over TLS, but the server offered none")
	}
	if text := strings.ReplaceAll(e.Text, "\r\n", "\n"); !strings.Contains(text, "\n"+link+"\n") {
		t.Errorf("text part lacks the link on its own line:\n%s", e.Text)
	}
	if !strings.Contains(e.HTML, `href="http://localhost:8080/login/magic?token=ml_abcDEF123-_xyz&amp;next=%2Fdashboard"`) {
		t.Errorf("HTML part lacks the link as href:\n%s", e.HTML)
	}
	// In the raw message too: the first URL on a line of its own is the link, unencoded.
	m := linkLine.FindSubmatch(e.Data)
	if m == nil || string(m[1]) != link {
		t.Errorf("raw message: first link line = %q, want %q", m, link)
	}
	header := string(e.Header())
	for _, want := range []string{"Date: ", "Message-Id: <", "@loginsign.test>", "Mime-Version: 1.0", "multipart/alternative", "From: \"LoginSign\" <no-reply@loginsign.test>", "To: \"Ann\" <ann@example.com>"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
}

func TestSMTPUsesSTARTTLSWhenOffered(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithStartTLS())
	s := newSender(t, mail.Config{URL: srv.URL(), TLSConfig: srv.ClientTLSConfig()})

	if err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if e := srv.Next(t, 5*time.Second); !e.TLS {
		t.Errorf("message did not come over TLS although the server offered STARTTLS")
	}
}

func TestSMTPRefusesUntrustedCertificateWithoutRetrying(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithStartTLS())
	s := newSender(t, mail.Config{URL: srv.URL(), RetryDelays: []time.Duration{time.Hour}}) // system roots

	err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link))
	if err == nil {
		t.Fatal("Send succeeded with an untrusted certificate")
	}
	if mail.IsTemporary(err) {
		t.Errorf("IsTemporary(%v) = true, want false", err)
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestSMTPAuthenticates(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithStartTLS(), mailtest.WithAuth("mailer", "s3cret"))
	s := newSender(t, mail.Config{URL: srv.URL(), TLSConfig: srv.ClientTLSConfig()})

	if err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	e := srv.Next(t, 5*time.Second)
	if e.AuthUser != "mailer" || !e.TLS {
		t.Errorf("AuthUser = %q, TLS = %v; want mailer over TLS", e.AuthUser, e.TLS)
	}
}

func TestSMTPWrongPasswordFailsPermanently(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithAuth("mailer", "s3cret"))
	url := strings.Replace(srv.URL(), "s3cret", "wrong", 1)
	s := newSender(t, mail.Config{URL: url, RetryDelays: []time.Duration{time.Hour}})

	err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link))
	var smtpErr *smtp.SMTPError
	if !errors.As(err, &smtpErr) || smtpErr.Code != 535 {
		t.Fatalf("Send error = %v, want SMTP 535", err)
	}
	if mail.IsTemporary(err) {
		t.Errorf("IsTemporary(%v) = true, want false", err)
	}
}

func TestSMTPRetriesTemporaryFailures(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	srv.FailNext(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"},
		&smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy"})
	s := newSender(t, mail.Config{URL: srv.URL()})

	if err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link)); err != nil {
		t.Fatalf("Send after two temporary failures: %v", err)
	}
	if got := len(srv.Wait(t, 1)); got != 1 {
		t.Errorf("server received %d messages, want 1", got)
	}
}

func TestSMTPGivesUpAfterThreeTemporaryFailures(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	greylist := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}
	srv.FailNext(greylist, greylist, greylist)
	s := newSender(t, mail.Config{URL: srv.URL()})

	// A fourth try would succeed, so failing means at most three; "try 3" means exactly three.
	err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "bob@example.com", link))
	if err == nil || !mail.IsTemporary(err) {
		t.Fatalf("Send error = %v, want a temporary error", err)
	}
	if !strings.Contains(err.Error(), "try 3") || !strings.Contains(err.Error(), "greylisted") {
		t.Errorf("error %q does not say the third try was greylisted", err)
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestSMTPPermanentFailureFailsAtOnce(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	srv.FailNext(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	s := newSender(t, mail.Config{URL: srv.URL(), RetryDelays: []time.Duration{time.Hour}})

	start := time.Now()
	err := s.Send(context.Background(), mail.VerifyEmail(i18n.English, "nobody@example.com", link))
	if err == nil || mail.IsTemporary(err) {
		t.Fatalf("Send error = %v, want a permanent error", err)
	}
	if !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("error %q does not carry the server's reply", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v: it waited for a retry", d)
	}
}

func TestSMTPConnectionRefusedIsTemporaryAndHonoursContext(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newSender(t, mail.Config{URL: "smtp://" + addr, RetryDelays: []time.Duration{time.Hour}})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, mail.VerifyEmail(i18n.English, "bob@example.com", link))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send error = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after its context ended", d)
	}
}

func TestSMTPSendsRawBytesUnchanged(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	raw := []byte("From: a@example.org\r\nTo: b@example.com\r\nSubject: raw\r\n\r\nline one\r\n.leading dot\r\n\r\nend\r\n")

	err := s.Send(context.Background(), mail.Message{To: "b@example.com", EnvelopeFrom: "bounce@relay.test", Raw: raw})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	e := srv.Next(t, 5*time.Second)
	if !bytes.Equal(e.Data, raw) {
		t.Errorf("received\n%q\nwant\n%q", e.Data, raw)
	}
	if e.From != "bounce@relay.test" {
		t.Errorf("MAIL FROM = %q, want bounce@relay.test", e.From)
	}
}

// TestANullSenderIsSentFromTheNullReversePath: a delivery status notification leaves with
// MAIL FROM:<> whatever envelope sender and From it names.
func TestANullSenderIsSentFromTheNullReversePath(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL(), From: "LoginSign <no-reply@loginsign.test>"})
	raw := []byte("From: Mail Delivery System <no-reply@relay.test>\r\nTo: b@example.com\r\nSubject: status\r\n\r\nx\r\n")

	if err := s.Send(context.Background(), mail.Message{To: "b@example.com", EnvelopeFrom: "bounce@relay.test", NullSender: true, Raw: raw}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if e := srv.Next(t, 5*time.Second); e.From != "" || len(e.To) != 1 || e.To[0] != "b@example.com" {
		t.Errorf("MAIL FROM <%s>, RCPT %v; want <> and b@example.com", e.From, e.To)
	}
}

func TestSendRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})

	for name, m := range map[string]mail.Message{
		"subject": {To: "b@example.com", Subject: "hi\r\nBcc: victim@example.com", Text: "x"},
		"header":  {To: "b@example.com", Subject: "hi", Text: "x", Headers: map[string]string{"X-Tag": "a\nBcc: v@example.com"}},
		"to":      {To: "b@example.com\r\nBcc: v@example.com", Subject: "hi", Text: "x"},
	} {
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("%s: Send accepted a line break in a header", name)
		}
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestOutboxWritesSortableFilesAndNeverLogsTheBody(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox")
	var log bytes.Buffer
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newSender(t, mail.Config{
		OutboxDir: dir,
		Logger:    slog.New(slog.NewTextHandler(&log, nil)),
		Now:       func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	})

	for _, to := range []string{"first@example.com", "second@example.com", "third@example.com"} {
		if err := s.Send(context.Background(), mail.MagicLink(to, link, "", "Acme", 10*time.Minute)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("outbox mode = %v, want 0700", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !sort.StringsAreSorted(names) {
		t.Fatalf("outbox files = %v, want 3", names)
	}
	for i, to := range []string{"first@example.com", "second@example.com", "third@example.com"} {
		data, err := os.ReadFile(filepath.Join(dir, names[i]))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(names[i], ".eml") || !bytes.Contains(data, []byte("To: <"+to+">")) {
			t.Errorf("file %d (%s) is not the mail to %s:\n%s", i, names[i], to, data)
		}
		if m := linkLine.FindSubmatch(data); m == nil || string(m[1]) != link {
			t.Errorf("file %d: link line = %q, want %q", i, m, link)
		}
	}
	// The body carries the magic link: only the file's name reaches the log. The address and
	// the subject, which names the app, stay in the file too.
	if strings.Contains(log.String(), link) || strings.Contains(log.String(), "lsml_") {
		t.Errorf("the log shows the link:\n%s", log.String())
	}
	if strings.Contains(log.String(), "@example.com") || strings.Contains(log.String(), "Acme") {
		t.Errorf("the log shows an address or the subject:\n%s", log.String())
	}
	if !strings.Contains(log.String(), names[0]) || !strings.Contains(log.String(), "level=INFO") {
		t.Errorf("log does not name the outbox file at info level:\n%s", log.String())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]mail.Config{
		"no from":    {URL: "smtp://localhost:25"},
		"bad scheme": {URL: "http://localhost:25", From: "a@b.test"},
		"no host":    {URL: "smtp://:25", From: "a@b.test"},
	} {
		if _, err := mail.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestSendEncodesExtraHeadersAndReplyTo(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	m := mail.Message{
		To: "b@example.com", From: "Zoë <zoe@app.test>", ReplyTo: "Support <help@app.test>",
		Subject: "Grüße", Text: "hi",
		Headers: map[string]string{"X-Tag": "café", "X-Count": "2"},
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	e := srv.Next(t, 5*time.Second)
	header := string(e.Header())
	for _, want := range []string{"X-Tag: =?utf-8?q?caf=C3=A9?=", "X-Count: 2", `Reply-To: "Support" <help@app.test>`, "From: =?utf-8?q?Zo=C3=AB?= <zoe@app.test>"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
	if e.Subject != "Grüße" || e.From != "zoe@app.test" {
		t.Errorf("Subject = %q, MAIL FROM = %q", e.Subject, e.From)
	}
	if strings.Index(header, "Date:") > strings.Index(header, "Subject:") {
		t.Errorf("Date is not above Subject:\n%s", header)
	}
}

// TestSMTPDeliversEachLanguage: one mail per language through a real SMTP exchange: the
// subject is decoded back, the body keeps its accents (8bit, not mangled), Content-Language
// names the language and the link stays on a line of its own.
func TestSMTPDeliversEachLanguage(t *testing.T) {
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	for _, c := range []struct{ lang, subject, sentence string }{
		{"en", "A copy of your LoginSign data was downloaded", "was downloaded on March 5, 2026 at 2:07 PM (UTC)."},
		{"fr", "Une copie de vos données LoginSign a été téléchargée", "a été téléchargée le 5 mars 2026 à 14:07 (UTC)."},
		{"de", "Eine Kopie Ihrer LoginSign-Daten wurde heruntergeladen", "wurde am 5. März 2026, 14:07 Uhr (UTC) heruntergeladen."},
	} {
		l := i18n.Choose(c.lang, "", "")
		if err := s.Send(context.Background(), mail.DataExport(l, "ann@example.com", when)); err != nil {
			t.Fatalf("Send %s: %v", c.lang, err)
		}
		e := srv.Next(t, 5*time.Second)
		header := string(e.Header())
		if e.Subject != c.subject || !strings.Contains(header, "Content-Language: "+c.lang+"\r\n") {
			t.Errorf("%s: Subject %q, header:\n%s", c.lang, e.Subject, header)
		}
		if !strings.Contains(e.Text, c.sentence) || !strings.Contains(e.HTML, `<html lang="`+c.lang+`"`) {
			t.Errorf("%s: text lacks %q:\n%s", c.lang, c.sentence, e.Text)
		}
		if c.lang != "en" && !bytes.Contains(e.Data, []byte("Content-Transfer-Encoding: 8bit")) {
			t.Errorf("%s: body not sent as 8bit:\n%s", c.lang, e.Data)
		}

		if err := s.Send(context.Background(), mail.VerifyEmail(l, "alt@example.com", link)); err != nil {
			t.Fatalf("Send %s: %v", c.lang, err)
		}
		v := srv.Next(t, 5*time.Second)
		if m := linkLine.FindSubmatch(v.Data); m == nil || string(m[1]) != link {
			t.Errorf("%s: first link line = %q, want %q", c.lang, m, link)
		}
		if v.Subject != mail.VerifyEmail(l, "alt@example.com", link).Subject {
			t.Errorf("%s: verify subject %q", c.lang, v.Subject)
		}
	}
}
