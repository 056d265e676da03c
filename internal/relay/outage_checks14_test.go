package relay_test

import (
	"testing"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestARecipientWhoseLimitCannotBeCountedIsDeferred: while Redis cannot count the peer's RCPT
// limit (down, or out of memory for writes) the relay answers RCPT with a temporary 451
// 4.3.0, never a permanent 5xx (the sender would bounce the mail) and never unlimited (the
// limit fails closed: anyone may write to the relay); the sender's retry after the outage is
// served. A regression guard of the behaviour the brief asked to check: it passes on the code
// before this review.
func TestARecipientWhoseLimitCannotBeCountedIsDeferred(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		fault := kvtest.InjectFaults(t, f.kv)
		msg := []byte("From: " + original + "\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")

		fault.Arm("", "rl:relay:rcpt:", -1)
		if err := send(f.addr, original, []string{alias}, msg); smtpCode(err) != "451 4.3.0" {
			t.Fatalf("RCPT with the limit uncountable: %s, want 451 4.3.0", smtpReply(err))
		}
		if fault.Injected() == 0 {
			t.Fatal("the fault was not injected")
		}
		if n := f.out.Count(); n != 0 {
			t.Fatalf("%d messages forwarded while the limit could not be counted, want none", n)
		}
		fault.Disarm()
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("the sender's retry: %v", err)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d messages forwarded after the retry, want 1", n)
		}
	})
}
