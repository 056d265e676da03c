package relay_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestTheAliasOfAnApplicationBeingDeletedTakesNoMail: from the moment an application's
// deletion begins (portal.DeleteApplication marks it before its connections end, batch by
// batch), mail to the aliases of its people is refused as to the retired aliases they are
// about to be; the application no longer reaches them through the relay meanwhile.
func TestTheAliasOfAnApplicationBeingDeletedTakesNoMail(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("From: " + original + "\r\nSubject: hi\r\n\r\nhi\r\n")
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			t.Fatalf("before the deletion: %v", err)
		}
		f.out.Next(t, 5*time.Second)

		f.db.Application.UpdateOne(f.app).SetDeletingSince(time.Now()).ExecX(context.Background())
		if got := smtpReply(send(f.addr, original, []string{alias}, msg)); got != "550 5.1.1 No such mailbox" {
			t.Errorf("mail to the alias while its application is being deleted: %s, want 550 5.1.1 No such mailbox", got)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d messages forwarded, want only the one before the deletion", n)
		}
	})
}
