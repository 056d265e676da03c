package oauth_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// TestUserInfoSeesChangesFromAnotherInstance: two instances of the authorization server on
// one database and one Redis, each with its own database client (two processes behind a
// balancer). A profile the second instance has cached is not served once the first has
// committed a change to the account or the connection: the name change and the block show on
// the very next call, while an uncommitted change does not.
func TestUserInfoSeesChangesFromAnotherInstance(t *testing.T) {
	t.Parallel()
	const cb = "https://app.example/cb"
	run := func(t *testing.T, dbURL string, k *kv.Store, clk *kvtest.Clock, embedded bool) {
		a := newFlowEnv(t, storetest.Open(t, dbURL), k, clk, embedded, oauth.Config{})
		b := newFlowEnv(t, storetest.Open(t, dbURL), k, clk, embedded, oauth.Config{})
		app, secret := a.client(t, cb)
		u := a.person(t)
		v := verifier()
		resp, err := a.token(app.ID, secret, codeForm(a.code(t, u, authzQuery(app.ID, cb, v, "scope", "openid profile")), cb, v))
		if err != nil {
			t.Fatal(err)
		}
		name := func(e *flowEnv) (string, error) {
			info, err := e.svc.UserInfo(e.ctx(), resp.AccessToken)
			if err != nil {
				return "", err
			}
			return info.Name, nil
		}
		for range 2 { // the second call is answered from b's cache
			if got, err := name(b); err != nil || got != "A Person" {
				t.Fatalf("instance b: %q, %v; want A Person", got, err)
			}
		}
		if err := a.db.User.UpdateOneID(u.ID).SetName("Renamed Person").Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, err := name(b); err != nil || got != "Renamed Person" {
			t.Fatalf("instance b after a rename on a: %q, %v; want Renamed Person", got, err)
		}

		tx, err := a.db.Client.Tx(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.AppConnection.Update().Where(appconnection.UserID(u.ID)).SetBlocked(true).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, err := name(b); err != nil || got != "Renamed Person" {
			t.Fatalf("instance b during a's uncommitted block: %q, %v; want the profile", got, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for _, e := range []*flowEnv{a, b} {
			if _, err := name(e); err == nil {
				t.Fatal("a blocked connection still answers /api/user")
			} else {
				wantOAuthError(t, err, oauth.InvalidToken)
			}
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		k, clk := kvtest.EmbeddedClock(t)
		run(t, "sqlite://:memory:"+ids.New("t"), k, clk, true)
	})
	if base := os.Getenv(storetest.EnvPostgres); base != "" && os.Getenv(kvtest.EnvRedis) != "" {
		t.Run("postgres", func(t *testing.T) {
			t.Parallel()
			run(t, storetest.FreshPostgres(t, base), kvtest.Real(t), kvtest.NewClock(), false)
		})
	}
}

// Introspection that cannot read the database is an error (503 at the endpoint), not
// "inactive": an app told that a live token is inactive signs the person out. Both kinds of
// token, with the connections' table unreadable and with the database closed.
func TestIntrospectionWithTheDatabaseDownIsAnError(t *testing.T) {
	t.Parallel()
	const cb = "https://app.example/cb"
	k, clk := kvtest.EmbeddedClock(t)
	e := newFlowEnv(t, storetest.SQLite(t), k, clk, true, oauth.Config{})
	app, secret := e.client(t, cb)
	v := verifier()
	resp, err := e.token(app.ID, secret, codeForm(e.code(t, e.person(t), authzQuery(app.ID, cb, v, "scope", "openid")), cb, v))
	if err != nil {
		t.Fatal(err)
	}
	creds := oauth.ClientCredentials{ID: app.ID, Secret: secret}
	introspect := func(step, tok string) {
		t.Helper()
		if got, err := e.svc.Introspect(e.ctx(), creds, url.Values{"token": {tok}}); err == nil {
			t.Fatalf("%s: Introspect = %+v, nil; want an error", step, got)
		}
	}
	if _, err := e.db.SQL.ExecContext(context.Background(), "ALTER TABLE app_connections RENAME TO app_connections_gone"); err != nil {
		t.Fatal(err)
	}
	introspect("refresh token, connections unreadable", resp.RefreshToken)
	introspect("access token, connections unreadable", resp.AccessToken)
	e.db.Close()
	introspect("access token, database closed", resp.AccessToken)
}
