package mail_test

import (
	"testing"

	"loginsign/internal/mail"
)

// TestMailboxKey: the per-address limits count a mailbox once, whatever +tag or (for
// Gmail) dots the address asked for carries.
func TestMailboxKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, email, want string
	}{
		{"a plain address as it is", "victim@example.com", "victim@example.com"},
		{"lower-cased", "Victim@Example.COM", "victim@example.com"},
		{"the +tag removed", "victim+1@example.com", "victim@example.com"},
		{"everything from the first + removed", "victim+a+b@example.com", "victim@example.com"},
		{"an empty +tag removed", "victim+@example.com", "victim@example.com"},
		{"a local part that is all tag kept", "+tag@example.com", "+tag@example.com"},
		{"dots kept outside Gmail", "v.ictim@example.com", "v.ictim@example.com"},
		{"Gmail dots removed", "v.i.c.t.i.m@gmail.com", "victim@gmail.com"},
		{"googlemail.com is gmail.com", "victim@googlemail.com", "victim@gmail.com"},
		{"Gmail dots, tag and case at once", "V.Ictim+News@GoogleMail.com", "victim@gmail.com"},
		{"a Gmail subdomain is not Gmail", "v.ictim@mail.gmail.com", "v.ictim@mail.gmail.com"},
		{"no @ as it is", "victim", "victim"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mail.MailboxKey(tt.email); got != tt.want {
				t.Fatalf("MailboxKey(%q) = %q, want %q", tt.email, got, tt.want)
			}
		})
	}
}
