package relay_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplyThroughAReverseAliasOfAnApplicationBeingDeletedIsRefused: from the moment an
// application's deletion begins, the person's replies through the reverse aliases of its
// connections are refused with the reverse aliases' one refusal (550 5.7.26), as once the
// connections are gone: the relay no longer carries mail between the application's contacts and
// its people meanwhile, either way.
func TestAReplyThroughAReverseAliasOfAnApplicationBeingDeletedIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken("tok123").SaveX(ctx)
		reverse := "r-tok123@" + domain
		reply := []byte("From: " + person + "\r\nSubject: Re\r\n\r\nhi\r\n")
		if err := send(f.addr, person, []string{reverse}, reply); err != nil {
			t.Fatalf("reply before the deletion: %v", err)
		}
		f.out.Next(t, 5*time.Second)

		f.db.Application.UpdateOne(f.app).SetDeletingSince(time.Now()).ExecX(ctx)
		if got := smtpReply(send(f.addr, person, []string{reverse}, reply)); got != replyRefused {
			t.Errorf("reply while the application is being deleted: %s, want %s", got, replyRefused)
		}
		if n := f.out.Count(); n != 1 {
			t.Errorf("%d messages relayed, want only the reply before the deletion", n)
		}
	})
}
