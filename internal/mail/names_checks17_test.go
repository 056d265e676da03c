package mail_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// TestLongApplicationNamesAreCutAtAWord: an application's name (up to 200 characters) is cut to
// 100 in the mails that name it. Before, the cut fell inside a word with nothing to say the
// name went on, so the subject read a different, shorter word ("…Assessment" became "…Ass")
// as the application's whole name. Now the name ends at the last space before the limit, with
// an ellipsis; a name without spaces is cut before the limit with the ellipsis too, never
// between a letter and its combining accent.
func TestLongApplicationNamesAreCutAtAWord(t *testing.T) {
	words := strings.Repeat("Acme ", 17) + "Compliance Assessment Portal" // "Assessment" spans runes 96 to 105
	subject := mail.MagicLinkIn(i18n.English, "ann@example.com", "https://id.example/l", "", words, time.Minute).Subject
	if want := "Sign in to " + strings.Repeat("Acme ", 17) + "Compliance… with LoginSign"; subject != want {
		t.Errorf("subject = %q\nwant      %q", subject, want)
	}
	invite := mail.TeamInvitation(i18n.English, "bob@example.com", "https://id.example/i", words, "admin", time.Hour).Subject
	if !strings.Contains(invite, " Compliance… on LoginSign") {
		t.Errorf("invitation subject = %q, want the name cut after Compliance with an ellipsis", invite)
	}

	cjk := strings.Repeat("店", 150)
	subject = mail.MagicLinkIn(i18n.English, "ann@example.com", "https://id.example/l", "", cjk, time.Minute).Subject
	if want := "Sign in to " + strings.Repeat("店", 99) + "… with LoginSign"; subject != want {
		t.Errorf("subject = %q, want 99 characters and an ellipsis", subject)
	}

	accents := strings.Repeat("x", 98) + "e\u0301" + strings.Repeat("y", 10) // the 100th rune is an accent
	subject = mail.MagicLinkIn(i18n.English, "ann@example.com", "https://id.example/l", "", accents, time.Minute).Subject
	if want := "Sign in to " + strings.Repeat("x", 98) + "… with LoginSign"; subject != want {
		t.Errorf("subject = %q, want the e cut with its accent", subject)
	}

	short := "Acme Notes"
	if s := mail.MagicLinkIn(i18n.English, "ann@example.com", "https://id.example/l", "", short, time.Minute).Subject; s != "Sign in to Acme Notes with LoginSign" {
		t.Errorf("subject = %q", s)
	}
	exact := strings.Repeat("a", 100)
	if s := mail.MagicLinkIn(i18n.English, "ann@example.com", "https://id.example/l", "", exact, time.Minute).Subject; utf8.RuneCountInString(s) != len("Sign in to  with LoginSign")+100 {
		t.Errorf("a name of exactly 100 characters was cut: %q", s)
	}
}
