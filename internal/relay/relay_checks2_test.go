package relay_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestACcOfAnotherConnectionsReverseAliasIsNotUnmasked: in the Cc of a reply, the person's own
// reverse alias turns back into its contact's address, but a reverse alias of another
// connection (another person's correspondent, its token learnt from a mail) is removed: the
// reply never names the address that other reverse alias stands for.
func TestACcOfAnotherConnectionsReverseAliasIsNotUnmasked(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		ctx := context.Background()
		other := f.newConnection(t, f.newUser(t, "other@example.org"), "o1o2o3@"+domain)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken("minetok").ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("colleague@acme.test").SetToken("mycctok").ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(other.ID).SetContactAddress("secret@hidden.test").SetToken("theirtok").ExecX(ctx)
		reverse := "r-minetok@" + domain

		reply := []byte("From: <" + person + ">\r\nTo: <" + reverse + ">\r\n" +
			"Cc: <r-mycctok@" + domain + ">, <r-theirtok@" + domain + ">\r\nSubject: Re: Your invoice\r\n\r\nThanks!\r\n")
		if err := send(f.addr, person, []string{reverse}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		if bytes.Contains(bytes.ToLower(e.Data), []byte("secret@hidden.test")) {
			t.Errorf("the reply names the contact of another connection's reverse alias:\n%s", e.Header())
		}
		h := parseHeader(t, e.Data)
		cc, _ := h.AddressList("Cc")
		if len(cc) != 1 || cc[0].Address != "colleague@acme.test" {
			t.Errorf("Cc = %v, want only colleague@acme.test (the person's own reverse alias, unmasked)", cc)
		}
	})
}
