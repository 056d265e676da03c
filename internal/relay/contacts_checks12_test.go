package relay_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/relaycontact"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// countingDB is db whose ent client counts the statements it runs (queries, execs and
// transaction steps alike) in n.
func countingDB(db *store.DB, n *atomic.Int64) *store.DB {
	drv := dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) { n.Add(1) })
	return &store.DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db.SQL, Dialect: db.Dialect}
}

// TestAForwardsParticipantsCostAFewStatementsWhateverTheirNumber: a forward gives every To
// and Cc participant a reverse alias; made one by one, anyone who can send mail had the
// database run two statements per participant (four to six once the connection is at its
// contact limit), 50 Cc a message and 50 aliases a transaction. They are read, stamped,
// made room for and inserted together: a forward with 50 Cc of new addresses, again with the
// same 50, once more with 50 other ones at the contact limit, and with 60 (the first 50
// masked, the rest dropped) each run a handful of statements, and the forward still names
// each by its own reverse alias.
func TestAForwardsParticipantsCostAFewStatementsWhateverTheirNumber(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var n atomic.Int64
		f := newFixture(t, countingDB(db, &n), fixtureOptions{contactLimit: 60})
		ctx := context.Background()
		cc := func(prefix string, n int) []string {
			var out []string
			for i := range n {
				out = append(out, fmt.Sprintf("%s%02d@acme.test", prefix, i))
			}
			return out
		}
		for _, round := range []struct {
			name      string
			addresses []string
		}{
			{"50 new participants", cc("guest", 50)},
			{"the same 50 again", cc("guest", 50)},
			{"50 other ones at the contact limit", cc("other", 50)},
			{"60, of which the first 50 are masked", cc("more", 60)},
		} {
			msg := []byte("From: \"Acme Support\" <" + original + ">\r\nTo: " + alias + "\r\nCc: " + strings.Join(round.addresses, ", ") +
				"\r\nSubject: Meeting\r\n\r\nSee you.\r\n")
			before := n.Load()
			if err := send(f.addr, original, []string{alias}, msg); err != nil {
				t.Fatalf("%s: forward: %v", round.name, err)
			}
			h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
			ran := n.Load() - before
			t.Logf("%s: %d statements", round.name, ran)
			if ran > 40 {
				t.Errorf("%s: the forward ran %d statements, want a handful whatever the number of participants", round.name, ran)
			}
			got, _ := h.AddressList("Cc")
			masked := round.addresses[:min(len(round.addresses), 50)] // maxMaskedParticipants
			if len(got) != len(masked) {
				t.Fatalf("%s: Cc holds %d addresses, want %d", round.name, len(got), len(masked))
			}
			for i, a := range masked {
				c := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID), relaycontact.ContactAddress(a)).OnlyX(ctx)
				if want := "r-" + c.Token + "@" + domain; got[i].Address != want {
					t.Errorf("%s: Cc[%d] = %s, want %s's reverse alias %s", round.name, i, got[i].Address, a, want)
				}
			}
		}
		if held := f.db.RelayContact.Query().Where(relaycontact.ConnectionID(f.conn.ID)).CountX(ctx); held > 60 {
			t.Errorf("the connection holds %d reverse aliases, want at most its limit of 60", held)
		}
	})
}
