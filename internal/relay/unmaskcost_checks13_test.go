package relay_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplysCcCostsAFewStatementsWhateverItsLength: a reply's Cc turns the reverse aliases of
// its connection back into their contacts' addresses; it looked each one up alone, so a person
// (a free account replying from their own domain) whose Cc listed thousands of made-up reverse
// aliases, as the 256 KiB header holds, had the database run a statement for each, for every
// reverse alias of the transaction. They are looked up together now, the first 50 distinct
// ones (as many as a forward names); the Cc still names the contacts of the connection's
// reverse aliases among them and nothing else.
func TestAReplysCcCostsAFewStatementsWhateverItsLength(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var n atomic.Int64
		f := newFixture(t, countingDB(db, &n), fixtureOptions{})
		ctx := context.Background()
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(ctx)
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress("colleague@acme.test").SetToken("mycctok").ExecX(ctx)
		cc := []string{"<r-mycctok@" + domain + ">", "<friend@example.org>"}
		for i := range 3000 {
			cc = append(cc, fmt.Sprintf("r-%d@%s", i, domain))
		}
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nCc: " + strings.Join(cc, ",\r\n ") +
			"\r\nSubject: Re: Your invoice\r\n\r\nThanks!\r\n")
		before := n.Load()
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		ran := n.Load() - before
		t.Logf("%d statements", ran)
		if ran > 40 {
			t.Errorf("the reply ran %d statements, want a handful whatever the length of its Cc", ran)
		}
		h := parseHeader(t, e.Data)
		got, _ := h.AddressList("Cc")
		var addresses []string
		for _, a := range got {
			addresses = append(addresses, a.Address)
		}
		if want := "colleague@acme.test friend@example.org"; strings.Join(addresses, " ") != want {
			t.Errorf("Cc = %v, want %s", addresses, want)
		}
	})
}
