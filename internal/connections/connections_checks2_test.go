package connections_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/ent/emailchange"
	"loginsign/ent/refreshtoken"
	"loginsign/internal/connections"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

const relayDomain = "relay.example"

// world makes people and applications on db.
type world struct {
	t  *testing.T
	db *store.DB
	n  int64
}

func (w *world) person() *ent.User {
	w.t.Helper()
	w.n++
	return w.db.User.Create().SetGlobalID(globalid.Format(w.n * 7919 % globalid.Space)).
		SetEmail(fmt.Sprintf("person-%d@example.com", w.n)).SaveX(context.Background())
}

func (w *world) app(owner *ent.User) *ent.Application {
	w.t.Helper()
	return w.db.Application.Create().SetOwnerID(owner.ID).SetName("App").SetSecretHash("h").SaveX(context.Background())
}

// create links u to app in a transaction of its own, claiming proposed if it may.
func (w *world) create(u *ent.User, app *ent.Application, proposed string) *ent.AppConnection {
	w.t.Helper()
	var conn *ent.AppConnection
	if err := w.db.Tx(context.Background(), func(tx *ent.Tx) error {
		var err error
		conn, err = connections.CreateWithAlias(context.Background(), tx, u.ID, app.ID, relayDomain, proposed, time.Now())
		return err
	}); err != nil {
		w.t.Fatalf("connecting with proposed alias %q: %v", proposed, err)
	}
	return conn
}

// TestAConnectionsAliasIsAFreshAddressOnTheRelayDomain: a proposed alias is claimed only when
// it is on the relay domain, held by no connection and never retired; any other proposal (a
// real address, another connection's alias, a retired alias) gets a fresh relay address
// instead, so an application is never given an address as the person's alias that is not a
// new one of the relay.
func TestAConnectionsAliasIsAFreshAddressOnTheRelayDomain(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := &world{t: t, db: db}
		dev := w.person()
		held := w.create(w.person(), w.app(dev), "").AliasEmail
		db.RetiredAlias.Create().SetAddress("retired1@" + relayDomain).SetRetiredAt(time.Now()).ExecX(ctx)

		for _, proposed := range []string{"pat@real.example", held, "retired1@" + relayDomain} {
			got := w.create(w.person(), w.app(dev), proposed).AliasEmail
			if got == proposed || !strings.HasSuffix(got, "@"+relayDomain) {
				t.Errorf("proposed %s, the connection's alias is %s; want a fresh address on %s", proposed, got, relayDomain)
			}
		}
		free := "free1234@" + relayDomain
		if got := w.create(w.person(), w.app(dev), free).AliasEmail; got != free {
			t.Errorf("proposed the free alias %s, got %s", free, got)
		}
	})
}

// TestAnApplicationIsSharedOnlyWhatThePersonGranted: the name and picture only with the
// profile scope, a real address only with the email scope; a connection without consent
// shares neither.
func TestAnApplicationIsSharedOnlyWhatThePersonGranted(t *testing.T) {
	for _, tt := range []struct {
		name           string
		consent        *ent.Consent
		profile, email bool
	}{
		{"no consent", nil, false, false},
		{"openid alone", &ent.Consent{Scopes: []string{"openid"}}, false, false},
		{"profile", &ent.Consent{Scopes: []string{"openid", "profile"}}, true, false},
		{"email", &ent.Consent{Scopes: []string{"openid", "email"}}, false, true},
		{"both", &ent.Consent{Scopes: []string{"openid", "email", "profile"}}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn := &ent.AppConnection{Edges: ent.AppConnectionEdges{Consent: tt.consent}}
			if got := connections.SharesProfile(conn); got != tt.profile {
				t.Errorf("SharesProfile = %v, want %v", got, tt.profile)
			}
			if got := connections.SharesEmail(conn); got != tt.email {
				t.Errorf("SharesEmail = %v, want %v", got, tt.email)
			}
		})
	}
}

// TestAPendingLinkIsOfferedOnlyWhileOpenAndOnlyToItsApplication: a link the person refused is
// not offered again; a link of another application, or to an address that is not among the
// person's, is not offered.
func TestAPendingLinkIsOfferedOnlyWhileOpenAndOnlyToItsApplication(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := &world{t: t, db: db}
		dev := w.person()
		refusedApp, openApp, otherApp := w.app(dev), w.app(dev), w.app(dev)
		addr := "pat@example.org"
		db.PendingLink.Create().SetApplicationID(refusedApp.ID).SetEmail(addr).SetExternalUserID("r").SetRefusedAt(time.Now()).ExecX(ctx)
		open := db.PendingLink.Create().SetApplicationID(openApp.ID).SetEmail(addr).SetExternalUserID("o").SaveX(ctx)
		db.PendingLink.Create().SetApplicationID(otherApp.ID).SetEmail("someone-else@example.org").SetExternalUserID("x").ExecX(ctx)

		for _, tt := range []struct {
			what  string
			appID string
			addrs []string
			want  string
		}{
			{"the refused link", refusedApp.ID, []string{addr}, ""},
			{"the open link", openApp.ID, []string{addr}, open.ID},
			{"another person's link", otherApp.ID, []string{addr}, ""},
			{"no address", openApp.ID, nil, ""},
		} {
			l, err := connections.PendingLinkFor(ctx, db.Client, tt.appID, tt.addrs)
			got := ""
			if l != nil {
				got = l.ID
			}
			if err != nil || got != tt.want {
				t.Errorf("%s: link %q, %v; want %q", tt.what, got, err, tt.want)
			}
		}
	})
}

// TestEndingAConnectionEndsOnlyWhatItGranted: the ended connection's refresh tokens and
// consent go and its application's proposals to change the person's address are superseded;
// the same person's other connection, and another person's connection to the same
// application, keep theirs.
func TestEndingAConnectionEndsOnlyWhatItGranted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := &world{t: t, db: db}
		dev, pat, other := w.person(), w.person(), w.person()
		app, app2 := w.app(dev), w.app(dev)
		ended, kept, others := w.create(pat, app, ""), w.create(pat, app2, ""), w.create(other, app, "")
		for _, c := range []*ent.AppConnection{ended, kept, others} {
			db.RefreshToken.Create().SetTokenHash(ids.RandomLower(20)).SetFamilyID(ids.RandomLower(10)).SetConnectionID(c.ID).
				SetApplicationID(c.ApplicationID).SetExpiresAt(time.Now().Add(time.Hour)).ExecX(ctx)
			db.Consent.Create().SetConnectionID(c.ID).SetScopes([]string{"openid"}).ExecX(ctx)
			db.EmailChange.Create().SetUserID(c.UserID).SetApplicationID(c.ApplicationID).SetNewEmail("new@example.org").
				SetOldEmail("old@example.org").SetConfirmHash(ids.RandomLower(20)).SetCancelHash(ids.RandomLower(20)).
				SetExpiresAt(time.Now().Add(time.Hour)).ExecX(ctx)
		}
		if err := db.Tx(ctx, func(tx *ent.Tx) error {
			c, err := tx.AppConnection.Query().Where(appconnection.ID(ended.ID)).WithApplication().WithUser().Only(ctx)
			if err != nil {
				return err
			}
			return connections.Delete(ctx, tx, c, connections.RemovedByPerson, time.Now())
		}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*ent.AppConnection{ended, kept, others} {
			want := 1
			if c.ID == ended.ID {
				want = 0
			}
			if n := db.RefreshToken.Query().Where(refreshtoken.ConnectionID(c.ID)).CountX(ctx); n != want {
				t.Errorf("connection %s: %d refresh tokens, want %d", c.ID, n, want)
			}
			if n := db.Consent.Query().Where(consent.ConnectionID(c.ID)).CountX(ctx); n != want {
				t.Errorf("connection %s: %d consents, want %d", c.ID, n, want)
			}
			if n := db.EmailChange.Query().Where(emailchange.UserID(c.UserID), emailchange.ApplicationID(c.ApplicationID),
				emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != want {
				t.Errorf("connection %s: %d pending proposals, want %d", c.ID, n, want)
			}
		}
	})
}
