package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/refreshtoken"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
)

// TestEndingAccessHalfwayIsFinishedByARetry: an action that ends an app's access (signing
// out, ending sessions from the dashboard, a reused refresh token, RFC 7009) and fails half
// way reports the error, and the same request again finishes it: the access token and the
// refresh token are dead after the retry. Redis and PostgreSQL are failed at each step
// after the first of the revocation, on a real Redis (kvtest.Fault sees its commands).
func TestEndingAccessHalfwayIsFinishedByARetry(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	f := kvtest.InjectFaults(t, e.kv)
	var dbFault atomic.Bool     // the next update of refresh tokens (a revocation) fails
	var dbInjected atomic.Int32 // how many did
	e.db.RefreshToken.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if m.Op().Is(ent.OpUpdate) && dbFault.CompareAndSwap(true, false) {
				dbInjected.Add(1)
				return nil, errors.New("database connection lost (injected)")
			}
			return next.Mutate(ctx, m)
		})
	})

	// The faults: the revocation's read of the family's sets of access tokens, its delete
	// of them, and its update of the refresh tokens.
	faults := []struct {
		name string
		arm  func()
	}{
		{"reading the family's access tokens", func() { f.Arm("smembers", "fat:", 1) }},
		{"deleting the access tokens", func() { f.Arm("del", "fat:", 1) }},
		{"revoking the refresh tokens", func() { dbFault.Store(true) }},
	}
	failed := func(t *testing.T, err error) {
		t.Helper()
		wantOAuthError(t, err, oauth.ServerError)
		if f.Injected()+int(dbInjected.Swap(0)) != 1 {
			t.Fatal("the fault was not injected once")
		}
		f.Disarm()
	}
	// dead fails unless the access token and the refresh token of s are refused, the access
	// token first: refreshing with a family's token while its revocation's marker lives
	// revokes the family again, which would hide what the retry left alive.
	dead := func(t *testing.T, s signedIn, access, refresh string) {
		t.Helper()
		if _, err := e.svc.AccessToken(e.ctx(), access); !errors.Is(err, oauth.ErrInvalidToken) {
			t.Errorf("the access token after the retry: %v, want it refused", err)
		}
		in, err := e.svc.Introspect(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, url.Values{"token": {access}})
		if err != nil || in.Active {
			t.Errorf("introspecting the access token after the retry: %+v, %v; want inactive", in, err)
		}
		n, err := e.db.RefreshToken.Query().Where(refreshtoken.ApplicationID(s.id), refreshtoken.RevokedAtIsNil()).Count(e.ctx())
		if err != nil || n != 0 {
			t.Errorf("%d refresh-token rows unrevoked after the retry (%v)", n, err)
		}
		_, err = e.token(s.id, s.secret, refreshForm(refresh))
		wantOAuthError(t, err, oauth.InvalidGrant)
	}

	for _, fault := range faults {
		t.Run("signing out, "+fault.name, func(t *testing.T) {
			u := e.person(t)
			raw, err := e.svc.Identity.Sessions.Create(e.ctx(), u.ID, "agent", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			sess, err := e.svc.Identity.Sessions.Lookup(e.ctx(), raw)
			if err != nil {
				t.Fatal(err)
			}
			s := e.signInFrom(t, u, sess)
			fault.arm()
			failed(t, e.svc.EndSession(e.ctx(), sess, raw))
			if err := e.svc.EndSession(e.ctx(), sess, raw); err != nil {
				t.Fatalf("signing out again: %v", err)
			}
			dead(t, s, s.resp.AccessToken, s.resp.RefreshToken)
		})
		t.Run("ending sessions from the dashboard, "+fault.name, func(t *testing.T) {
			u := e.person(t)
			sess := auth.Session{UserID: u.ID, ID: ids.New(""), Line: ids.New(""), SignedInAt: e.clock.Now()}
			s := e.signInFrom(t, u, sess)
			since := e.clock.Now().Add(-time.Minute)
			fault.arm()
			failed(t, e.svc.LogoutApps(e.ctx(), u.ID, since, []string{sess.Line}))
			if err := e.svc.LogoutApps(e.ctx(), u.ID, since, []string{sess.Line}); err != nil {
				t.Fatalf("ending the sessions again: %v", err)
			}
			dead(t, s, s.resp.AccessToken, s.resp.RefreshToken)
		})
		t.Run("a reused refresh token, "+fault.name, func(t *testing.T) {
			s := e.signIn(t, "openid")
			next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(e.svc.Config.RefreshGrace + time.Second)
			// Presented to another instance, which reads the row (this one keeps it, and takes
			// the token for the live one until its write, which then finds the marker).
			other := e.otherInstance(t)
			reuse := func() error {
				_, err := other.Token(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, refreshForm(s.resp.RefreshToken))
				return err
			}
			fault.arm()
			failed(t, reuse())
			wantOAuthError(t, reuse(), oauth.InvalidGrant)
			dead(t, s, next.AccessToken, next.RefreshToken)
		})
		t.Run("RFC 7009 revocation of the refresh token, "+fault.name, func(t *testing.T) {
			s := e.signIn(t, "openid")
			creds := oauth.ClientCredentials{ID: s.id, Secret: s.secret}
			revoke := url.Values{"token": {s.resp.RefreshToken}}
			fault.arm()
			failed(t, e.svc.Revoke(e.ctx(), creds, revoke))
			if err := e.svc.Revoke(e.ctx(), creds, revoke); err != nil {
				t.Fatalf("revoking again: %v", err)
			}
			dead(t, s, s.resp.AccessToken, s.resp.RefreshToken)
		})
	}

	// A code exchanged while a replay of it revokes the family: the exchange finishes the
	// revocation, and answers no tokens when that fails (they could be alive). Its retry is
	// a replay, which revokes the family again.
	t.Run("a code exchange racing its replay, deleting the access tokens", func(t *testing.T) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb)
		code := e.code(t, e.person(t), authzQuery(app.ID, cb, "", "scope", "openid"))
		family := codeFamily(t, e, code)
		// What the racing replay's revocation left first (revokeFamily's marker).
		if err := e.kv.Set(e.ctx(), "frv:"+family, 1, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		f.Arm("del", "fat:", 1)
		resp, err := e.token(app.ID, secret, codeForm(code, cb, ""))
		if err == nil {
			f.Disarm()
			if _, err := e.svc.AccessToken(e.ctx(), resp.AccessToken); err == nil {
				t.Fatal("the exchange answered an access token that its failed revocation left alive")
			}
			t.Fatal("the exchange answered tokens although its revocation failed")
		}
		failed(t, err)
		written, err := e.svc.FamilyAccessTokens(e.ctx(), family)
		if err != nil || len(written) == 0 {
			t.Fatalf("the exchange's access token is not in its family's sets: %v, %v", written, err)
		}
		_, err = e.token(app.ID, secret, codeForm(code, cb, ""))
		wantOAuthError(t, err, oauth.InvalidGrant)
		for _, h := range written {
			if n, err := e.kv.Exists(e.ctx(), "at:"+h).Result(); err != nil || n != 0 {
				t.Errorf("an access token of the exchange is alive after the replay (%v)", err)
			}
		}
		n, err := e.db.RefreshToken.Query().Where(refreshtoken.FamilyID(family), refreshtoken.RevokedAtIsNil()).Count(e.ctx())
		if err != nil || n != 0 {
			t.Errorf("%d refresh-token rows of the exchange unrevoked after the replay (%v)", n, err)
		}
	})
}

// signInFrom is signIn from the browser session sess of u: the family keeps its line.
func (e *flowEnv) signInFrom(t *testing.T, u *ent.User, sess auth.Session) signedIn {
	t.Helper()
	const cb = "https://rp.example/cb"
	app, secret := e.client(t, cb)
	ctx := auth.WithSession(e.ctx(), sess)
	code, err := e.svc.Approve(ctx, e.authorize(t, authzQuery(app.ID, cb, "", "scope", "openid")), u.ID, oauth.ShareAlias, e.clock.Now())
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	resp, err := e.token(app.ID, secret, codeForm(code, cb, ""))
	if err != nil {
		t.Fatal(err)
	}
	return signedIn{app.ID, secret, resp}
}

// codeFamily is the refresh-token family that the authorization code will issue, read from
// its grant in the store.
func codeFamily(t *testing.T, e *flowEnv, code string) string {
	t.Helper()
	b, err := e.kv.Get(e.ctx(), "ocg:"+ids.Hash(code)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Family string `json:"f"`
	}
	if err := json.Unmarshal(b, &g); err != nil || g.Family == "" {
		t.Fatalf("reading the code's family: %q, %v", b, err)
	}
	return g.Family
}
