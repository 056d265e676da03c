package oauth_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/oauth"
	authpages "loginsign/internal/web/auth"
)

// TestASignInFinishingAsTheAccountClosesLeavesNoSession: a sign-in link used (the sign-in
// recorded) just before the account closes, with the page that sets the session running
// after the closing, leaves no session: the page answers as for a link to an account that no
// longer exists (410), sets no session cookie, and the account has no session left. Before,
// the session was written after the closing had ended every session of the account, and it
// signed the browser in to an account that no longer existed. The same sign-in of an account
// that stays open signs in.
func TestASignInFinishingAsTheAccountClosesLeavesNoSession(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		pages := &authpages.Pages{OAuth: e.svc, Identity: e.svc.Identity, Log: slog.New(slog.DiscardHandler)}
		accounts := &account.Service{DB: e.db, KV: e.kv, Identity: e.svc.Identity, Now: e.clock.Now}
		for _, c := range []struct {
			name       string
			closes     bool
			wantStatus int
			wantLive   int
		}{
			{name: "the account closed meanwhile", closes: true, wantStatus: http.StatusGone, wantLive: 0},
			{name: "the account open", closes: false, wantStatus: http.StatusSeeOther, wantLive: 1},
		} {
			t.Run(c.name, func(t *testing.T) {
				u := e.person(t)
				if _, err := e.svc.StartSignIn(ctx, u.Email, "", "192.0.2.10", "browser-1", ""); err != nil {
					t.Fatal(err)
				}
				link, _ := box.last(t, u.Email)
				in, err := e.svc.UseMagicLink(ctx, link, "192.0.2.10", "browser-1")
				if err != nil {
					t.Fatal(err)
				}
				if c.closes {
					closing := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "other-tab", SignedInAt: e.clock.Now()})
					if _, err := accounts.DeleteAccount(closing, u.GlobalID, ""); err != nil {
						t.Fatal(err)
					}
				}

				w := httptest.NewRecorder()
				pages.SignedIn(w, httptest.NewRequest("POST", "/login/magic", nil), in)
				resp := w.Result()
				if resp.StatusCode != c.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, c.wantStatus)
				}
				cookie := ""
				for _, k := range resp.Cookies() {
					if k.Name == (httpx.Cookies{}).SessionName() {
						cookie = k.Value
					}
				}
				switch {
				case c.wantLive == 0 && cookie != "":
					t.Errorf("session cookie %q set, want none", cookie)
				case c.wantLive == 1 && cookie == "":
					t.Error("no session cookie set, want one")
				}
				live, err := e.svc.Identity.Sessions.List(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(live) != c.wantLive {
					t.Errorf("%d sessions of the account, want %d", len(live), c.wantLive)
				}
			})
		}
	})
}

// A sign-in whose account closes between the link's use and the record of the sign-in
// (oauth's signedIn, which writes the last sign-in) answers as for a link that no longer
// signs in (410), not an internal error.
func TestASignInRecordedAfterTheClosingIsGone(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := e.ctx()
		u := e.person(t)
		accounts := &account.Service{DB: e.db, KV: e.kv, Identity: e.svc.Identity, Now: e.clock.Now}
		closing := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "other-tab", SignedInAt: e.clock.Now()})
		if _, err := accounts.DeleteAccount(closing, u.GlobalID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SignedIn(ctx, u.ID, "", "browser-1", "magic_link"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("recording the sign-in of a closed account: %v, want Gone", err)
		}
	})
}
