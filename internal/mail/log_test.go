package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
)

// privateAddress and secretApp must never reach the log: the address is a person's, and the
// app is named by the sign-in mail's subject ("Sign in to Lantern Clinic with LoginSign").
const (
	privateAddress = "ann.private+health@example.org"
	secretApp      = "Lantern Clinic"
)

// leaks returns what of the person's address or the mail's subject text shows in s.
func leaks(s string, subject string) []string {
	var found []string
	for _, secret := range []string{privateAddress, "ann.private", secretApp, subject} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

// TestSMTPLogNamesTheKindNotTheAddressOrSubject: a sign-in mail sent over SMTP leaves one
// "mail sent" line that says which kind of mail it was, and neither the recipient's address
// nor the subject, which names the app the person signs in to.
func TestSMTPLogNamesTheKindNotTheAddressOrSubject(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	var log bytes.Buffer
	s := newSender(t, mail.Config{URL: srv.URL(), Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	m := mail.MagicLink("Ann <"+privateAddress+">", link, "123456", secretApp, 15*time.Minute)

	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if e := srv.Next(t, 5*time.Second); e.To[0] != privateAddress || !strings.Contains(e.Subject, secretApp) {
		t.Fatalf("the mail went to %v with subject %q; the test needs both secrets in it", e.To, e.Subject)
	}
	if found := leaks(log.String(), m.Subject); found != nil {
		t.Errorf("the log shows %q:\n%s", found, log.String())
	}
	if !strings.Contains(log.String(), `"msg":"mail sent"`) || !strings.Contains(log.String(), `"kind":"magic_link"`) {
		t.Errorf("the log does not say a magic_link mail was sent:\n%s", log.String())
	}
}

// TestSMTPFailureEchoingTheAddressIsRedacted: servers echo the recipient in their replies.
// A temporary refusal (logged before the retry) and the permanent one that ends Send keep
// their code, their text and the kind of mail, but show the address as •••@domain, in the
// log, in Send's error and in the *smtp.SMTPError a caller may find in it.
func TestSMTPFailureEchoingTheAddressIsRedacted(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	srv.FailNext(
		&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "<" + privateAddress + ">: mailbox busy"},
		&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + privateAddress + ">: Recipient address rejected: User unknown"})
	var log bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	s := newSender(t, mail.Config{URL: srv.URL(), Logger: logger})
	m := mail.MagicLink(privateAddress, link, "123456", secretApp, 15*time.Minute)

	err := s.Send(context.Background(), m)
	if err == nil {
		t.Fatal("Send succeeded although the server refused the recipient")
	}
	logger.Error("sending magic link", "err", err) // as callers do
	if found := leaks(log.String(), m.Subject); found != nil {
		t.Errorf("the log shows %q:\n%s", found, log.String())
	}
	if found := leaks(err.Error(), m.Subject); found != nil {
		t.Errorf("Send's error shows %q: %v", found, err)
	}
	var reply *smtp.SMTPError
	if !errors.As(err, &reply) || reply.Code != 550 || strings.Contains(reply.Message, "ann.private") {
		t.Errorf("SMTP reply in the error = %+v, want the 550 without the address", reply)
	}
	for _, want := range []string{"550", "•••@example.org", "User unknown", "magic_link", "try 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Send's error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(log.String(), "mailbox busy") || !strings.Contains(log.String(), "•••@example.org") {
		t.Errorf("the retry was not logged with the server's redacted reply:\n%s", log.String())
	}
	if mail.IsTemporary(err) {
		t.Errorf("IsTemporary(%v) = true, want false", err)
	}
}
