package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
)

// An application name is plain ASCII that a mail program reads as an RFC 2047 encoded word
// ("=?utf-8?b?…?=" is base64 of "LoginSign Security", "=?utf-8?q?=E2=80=AE…?=" a right-to-left
// override): written into the subject as it is, the recipient's program decodes it and shows
// the reserved name or the invisible character that the application name checks refused. The
// subject the recipient reads is the text LoginSign wrote, "=?" and all.
func TestSubjectShowsEncodedWordsOfAnAppNameLiterally(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	for _, tc := range []struct{ app, hidden string }{
		{"=?utf-8?b?TG9naW5TaWduIFNlY3VyaXR5?=", "LoginSign Security"},
		{"=?utf-8?q?=E2=80=AEnimda?=", "\u202e"},
		{"Acme =?utf-8?q?Login=E2=80=8BSign?=", "Login\u200bSign"},
	} {
		for kind, m := range map[string]mail.Message{
			"invitation": mail.TeamInvitation(i18n.English, "invitee@example.com", "https://id.test/portal/invitation?token=x", tc.app, "admin", time.Hour),
			"magic link": mail.MagicLink("person@example.com", "https://id.test/auth/magic?token=x", "123456", tc.app, 15*time.Minute),
		} {
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("%s %q: Send: %v", kind, tc.app, err)
			}
			got := srv.Next(t, 5*time.Second)
			if strings.Contains(got.Subject, tc.hidden) || !strings.Contains(got.Subject, tc.app) {
				t.Errorf("%s %q: the recipient reads the subject %q, want the name as written", kind, tc.app, got.Subject)
			}
		}
	}
}

// A subject that must be encoded to hold "=?" stays readable once decoded, whatever its
// length and script (the encoded words are split on character boundaries).
func TestSubjectWithEncodedWordSyntaxRoundTrips(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	for _, subject := range []string{
		"=?",
		"a =? b ?= c",
		strings.Repeat("Café 日本 =?x?= ", 12),
	} {
		if err := s.Send(context.Background(), mail.Message{To: "b@example.com", Subject: subject, Text: "x"}); err != nil {
			t.Fatalf("Send %q: %v", subject, err)
		}
		got := srv.Next(t, 5*time.Second)
		if got.Subject != subject {
			t.Errorf("subject %q arrived as %q", subject, got.Subject)
		}
	}
}

// A name with a bidirectional override or a zero-width character (an application saved
// before the name rule, or any caller that did not check) reaches neither the subject nor the
// body of the mail as sent: "Notes\u202egpj.exe" would read "Notesexe.jpg".
func TestMailDropsInvisibleFormattingFromNames(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	l := i18n.English
	for kind, m := range map[string]mail.Message{
		"magic link": mail.MagicLink("person@example.com", "https://id.test/auth/magic?token=x", "", "Notes\u202egpj.exe", time.Minute),
		"invitation": mail.TeamInvitation(l, "invitee@example.com", "https://id.test/i?token=x", "Login\u200bSign\u2028Team", "admin", time.Hour),
		"change":     mail.EmailChangeNotice(l, "person@example.com", "new@example.com", "https://id.test/c?token=x", "Notes\u2066\u202egpj.exe"),
	} {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("%s: Send: %v", kind, err)
		}
		got := srv.Next(t, 5*time.Second)
		for part, text := range map[string]string{"subject": got.Subject, "text": got.Text, "html": got.HTML} {
			if i := strings.IndexAny(text, "\u202e\u200b\u2066\u2028"); i >= 0 {
				t.Errorf("%s: the %s holds invisible formatting at %d: %q", kind, part, i, text)
			}
		}
	}
}
