package oauth_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// An application names any address it likes in login_hint, and anyone signed in to an
// account of their own can open its login page. The page fills the hint in only when the
// signed-in account holds it, and finds that out from that account alone: the database is
// never asked who holds the hinted address, so whether another account holds it (found a few
// microseconds apart from nobody by a lookup by address) cannot show in the page's time.
func TestTheLoginHintIsCheckedAgainstTheSignedInAccountAloneNeverLookedUpByAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		var logged strings.Builder
		watched := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
			dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(_ context.Context, v ...any) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintln(&logged, v...)
			})))}
		k, clk := kvtest.EmbeddedClock(t)
		e := newFlowEnv(t, watched, k, clk, true, oauth.Config{})
		const cb = "https://rp.example/cb"
		app, _ := e.client(t, cb)
		me, someoneElse := e.person(t), e.person(t)
		const myAlt = "my-other-address@example.com"
		if err := db.UserEmail.Create().SetUserID(me.ID).SetEmail(myAlt).SetVerifiedAt(time.Now()).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ hint, want string }{
			{me.Email, me.Email},
			{strings.ToUpper(me.Email), strings.ToUpper(me.Email)},
			{myAlt, myAlt},
			{someoneElse.Email, ""},
			{"nobody-holds-this@example.com", ""},
		} {
			f := e.startFlow(t, authzQuery(app.ID, cb, "", "login_hint", tc.hint), "browser-1")
			mu.Lock()
			logged.Reset()
			mu.Unlock()
			got := e.svc.LoginHint(context.Background(), f, me.ID, "browser-1")
			if got != tc.want {
				t.Errorf("LoginHint(%q) for the signed-in account = %q, want %q", tc.hint, got, tc.want)
			}
			mu.Lock()
			ran := logged.String()
			mu.Unlock()
			if strings.Contains(strings.ToLower(ran), strings.ToLower(tc.hint)) {
				t.Errorf("LoginHint(%q) asked the database about the hinted address:\n%s", tc.hint, ran)
			}
		}
	})
}
