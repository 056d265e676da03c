package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/internal/globalid"
	"loginsign/internal/store/storetest"
)

// When every Global User ID is assigned, people who have an account keep signing in; a new
// address gets a clear error page instead of an account (docs/operations.md).
func TestGlobalIDSpaceExhausted(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newOAuthEnv(t, dbURL)
			// A space of 4 ids; the app's owner holds one already.
			e.srv.identity.IDs = globalid.NewReducedAllocator(e.srv.db.Client, e.srv.db.Dialect, 2)
			ctx := context.Background()
			for _, email := range []string{"a@example.com", "b@example.com"} {
				if _, err := e.srv.identity.CreateUser(ctx, email, ""); err != nil {
					t.Fatal(err)
				}
			}
			e.authorizeCode(e.browser(), "c@example.com") // the last id

			b := e.browser()
			u := e.config(e.app, rpCallback).AuthCodeURL("st-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			p := b.signIn(b.get(u), "d@example.com")
			if p.StatusCode < 400 || p.StatusCode >= 500 || !strings.Contains(p.Body, "no new accounts can be created") {
				t.Fatalf("new person after exhaustion: %d\n%s", p.StatusCode, p.Body)
			}
			if n, err := e.srv.db.User.Query().Count(ctx); err != nil || n != 4 {
				t.Fatalf("accounts = %d, %v; want 4", n, err)
			}
			// Everyone with an account still signs in.
			for _, email := range []string{"a@example.com", "c@example.com"} {
				code, verifier := e.authorizeCode(e.browser(), email)
				status, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
				if status != http.StatusOK {
					t.Fatalf("%s after exhaustion: token %d %v", email, status, body)
				}
			}
		})
	}
}
