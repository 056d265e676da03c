package mail_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
)

// TestRehearsingGoesAsFarAsTheRecipientAndDeliversNothing: Rehearse runs Send's conversation
// (STARTTLS, AUTH, MAIL, RCPT, a temporary refusal retried) and ends it before DATA, so the
// server accepts no message; a recipient refused for good fails it as it fails Send. The
// outbox composes the mail and writes no file.
func TestRehearsingGoesAsFarAsTheRecipientAndDeliversNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := mail.TeamInvitation(i18n.English, "bob@example.com", link, "Shop", "admin", 7*24*time.Hour)
	srv := mailtest.Start(t, mailtest.WithStartTLS(), mailtest.WithAuth("user", "pass"))
	s, ok := newSender(t, mail.Config{URL: srv.URL(), TLSConfig: srv.ClientTLSConfig()}).(mail.Rehearser)
	if !ok {
		t.Fatal("the SMTP sender cannot rehearse")
	}
	srv.FailNext(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox busy"})
	if err := s.Rehearse(ctx, m); err != nil {
		t.Fatalf("rehearsing past a temporary refusal: %v", err)
	}
	refusal := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "user unknown"}
	srv.FailNext(refusal)
	rehearsed := s.Rehearse(ctx, m)
	srv.FailNext(refusal)
	sent := s.(mail.Sender).Send(ctx, m)
	if rehearsed == nil || sent == nil || mail.IsTemporary(rehearsed) != mail.IsTemporary(sent) {
		t.Fatalf("a refused recipient: rehearsing %v, sending %v", rehearsed, sent)
	}
	if got := srv.Count(); got != 0 {
		t.Fatalf("the server accepted %d messages from rehearsals", got)
	}
	if err := s.(mail.Sender).Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := srv.Count(); got != 1 {
		t.Fatalf("the server accepted %d messages, want the one sent", got)
	}

	dir := t.TempDir()
	out, ok := newSender(t, mail.Config{OutboxDir: dir}).(mail.Rehearser)
	if !ok {
		t.Fatal("the outbox cannot rehearse")
	}
	if err := out.Rehearse(ctx, m); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("rehearsing wrote %d files", len(files))
	}
}
