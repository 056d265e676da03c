package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// TestClientCredentialsOwnerBudget: the client_credentials tokens one developer's
// applications get are bounded together (Limits.ClientCredentialsPerOwner), since each is kept
// in the store for its life. Past the budget the grant answers rate_limited (429) with
// Retry-After and writes nothing to the store; the owner's other grants (authorization_code,
// refresh) and another developer's applications are not counted; once the window has passed,
// the grant works again.
func TestClientCredentialsOwnerBudget(t *testing.T) {
	t.Parallel()
	const budget = 3
	cfg := oauth.Config{Limits: oauth.Limits{ClientCredentialsPerOwner: oauth.Limit{N: budget}}}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		owner := e.person(t)
		first, firstSecret := e.ownedClient(t, owner, cb)
		second, secondSecret := e.ownedClient(t, owner, cb)
		stranger, strangerSecret := e.client(t, cb)
		cc := url.Values{"grant_type": {"client_credentials"}}

		// A person signs in to the first application before its owner's budget is spent, for
		// the refresh below.
		signedIn, err := e.token(first.ID, firstSecret, codeForm(e.code(t, e.person(t), authzQuery(first.ID, cb, "", "scope", "openid")), cb, ""))
		if err != nil {
			t.Fatal(err)
		}

		// The budget is the owner's, shared by the applications: two tokens of one, one of
		// the other.
		for i, app := range []struct{ id, secret string }{{first.ID, firstSecret}, {first.ID, firstSecret}, {second.ID, secondSecret}} {
			if _, err := e.token(app.id, app.secret, cc); err != nil {
				t.Fatalf("client_credentials %d within the budget: %v", i+1, err)
			}
		}
		before := e.keys(t)
		for _, app := range []struct{ id, secret string }{{first.ID, firstSecret}, {second.ID, secondSecret}} {
			resp, err := e.token(app.id, app.secret, cc)
			if err == nil {
				t.Fatalf("client_credentials past the owner's budget of %d: issued %q", budget, resp.AccessToken)
			}
			r := wantOAuthError(t, err, oauth.RateLimited)
			if r.Status != http.StatusTooManyRequests || r.RetryAfter < 1 || r.RetryAfter > int(time.Hour/time.Second) ||
				!strings.Contains(r.Description, "expires_in") {
				t.Fatalf("past the budget: status %d, Retry-After %d, %q", r.Status, r.RetryAfter, r.Description)
			}
		}
		if after := e.keys(t); after > before {
			t.Fatalf("refused grants wrote to the store: %d keys before, %d after", before, after)
		}

		// Nothing else of the owner's applications is counted, nor another owner's tokens.
		if _, err := e.token(stranger.ID, strangerSecret, cc); err != nil {
			t.Fatalf("another developer's application: %v", err)
		}
		code := e.code(t, e.person(t), authzQuery(first.ID, cb, "", "scope", "openid"))
		if _, err := e.token(first.ID, firstSecret, codeForm(code, cb, "")); err != nil {
			t.Fatalf("authorization_code past the client_credentials budget: %v", err)
		}
		if _, err := e.token(first.ID, firstSecret, refreshForm(signedIn.RefreshToken)); err != nil {
			t.Fatalf("refresh past the client_credentials budget: %v", err)
		}

		// The window over, a backend gets its token again.
		e.advance(t, e.svc.Config.AccessTokenTTL)
		resp, err := e.token(second.ID, secondSecret, cc)
		if err != nil {
			t.Fatalf("client_credentials after the window: %v", err)
		}
		if err := e.svc.AppAccessToken(e.ctx(), resp.AccessToken, second.ID, oauth.ScopeAppUsersRead); err != nil {
			t.Fatalf("the token issued after the window: %v", err)
		}
	})
}

// ownedClient registers an application of owner with redirect URIs and returns it with its
// secret.
func (e *flowEnv) ownedClient(t *testing.T, owner *ent.User, redirectURIs ...string) (*ent.Application, string) {
	t.Helper()
	secret := ids.Secret("lss_")
	app, err := e.db.Application.Create().SetOwnerID(owner.ID).SetName(fmt.Sprintf("App %d", e.n.Add(1))).
		SetRedirectUris(redirectURIs).SetSecretHash(ids.Hash(secret)).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return app, secret
}

// keys is the number of keys in e's store.
func (e *flowEnv) keys(t *testing.T) int64 {
	t.Helper()
	n, err := e.kv.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
