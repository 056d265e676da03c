package account_test

import (
	"context"
	"testing"

	"loginsign/ent"
	"loginsign/ent/relaycontact"
	"loginsign/internal/connections"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestANewAccountWithTheSameAddressInheritsNothing: after a person closes their account,
// whoever signs up with the same address and connects to the same application is a new
// person to it: a new Global User ID, a new connection id, a new alias (the old one stays
// retired, so mail to it is refused as to an unknown one), and the third parties' addresses the
// old connection's reverse aliases held are gone with it. Linking the new account to the old
// one's data would tell the application that the same address came back.
func TestANewAccountWithTheSameAddressInheritsNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		app := e.app("alpha")
		old := e.connect(e.person, app, "")
		db.RelayContact.Create().SetConnectionID(old.ID).SetContactAddress("friend@example.net").SetToken("tok21").
			SaveX(ctx)

		if _, err := e.svc.DeleteAccount(as(e.person), e.person.GlobalID, ""); err != nil {
			t.Fatal(err)
		}
		if n := db.RelayContact.Query().Where(relaycontact.ConnectionID(old.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d reverse aliases of the closed account's connection left", n)
		}
		if free, err := connections.AliasFree(ctx, db.Client, old.AliasEmail); err != nil || free {
			t.Errorf("the closed account's alias is free again (%v, %v): it could be issued to someone else", free, err)
		}

		again := e.user("person@example.com")
		var conn *ent.AppConnection
		if err := db.Tx(ctx, func(tx *ent.Tx) error {
			var err error
			conn, err = connections.CreateWithAlias(ctx, tx, again.ID, app.ID, "relay.example.com", old.AliasEmail, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if again.GlobalID == e.person.GlobalID || conn.ID == old.ID || conn.AliasEmail == old.AliasEmail {
			t.Errorf("the new account got Global ID %s, connection %s, alias %s; the closed one had %s, %s, %s",
				again.GlobalID, conn.ID, conn.AliasEmail, e.person.GlobalID, old.ID, old.AliasEmail)
		}
	})
}
