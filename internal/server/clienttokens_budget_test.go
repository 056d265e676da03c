package server

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"loginsign/internal/oauth"
)

// Each client_credentials token is kept in the store for its life, so the tokens one
// developer's applications get are bounded together (oauth.Limits.ClientCredentialsPerOwner):
// past the budget, POST /oauth/token answers 429 rate_limited with Retry-After and
// Cache-Control: no-store, through golang.org/x/oauth2's clientcredentials, and writes nothing
// to the store; the owner's sign-ins (authorization_code) and refreshes go on.
func TestClientCredentialsTokensPerOwnerAreLimited(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	e.srv.oauth.Config.Limits.ClientCredentialsPerOwner = oauth.Limit{N: 2, Window: time.Hour}
	signedIn := e.signedIn(defaultTestEmail)
	second := e.createApp("Second App", rpCallback) // the same developer's
	ctx := context.Background()
	cc := func(app testApp) clientcredentials.Config {
		// In the header only: AuthStyleAutoDetect would send a refused request again with the
		// secret in the body.
		return clientcredentials.Config{ClientID: app.ID, ClientSecret: app.Secret, TokenURL: e.base + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader}
	}
	for i, app := range []testApp{e.app, second} {
		c := cc(app)
		if _, err := c.Token(ctx); err != nil {
			t.Fatalf("client_credentials %d within the budget: %v", i+1, err)
		}
	}
	keys := func() int64 {
		n, err := e.srv.kv.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := keys()
	for _, app := range []testApp{e.app, second} {
		c := cc(app)
		tok, err := c.Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			if tok != nil {
				t.Fatalf("client_credentials past the owner's budget: issued %q", tok.AccessToken)
			}
			t.Fatalf("client_credentials past the owner's budget: %v, want a 429", err)
		}
		retry, _ := strconv.Atoi(re.Response.Header.Get("Retry-After"))
		if re.Response.StatusCode != 429 || re.ErrorCode != "rate_limited" || re.ErrorDescription == "" ||
			retry < 1 || retry > 3600 || re.Response.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("past the budget: %d %q %q Retry-After=%q Cache-Control=%q", re.Response.StatusCode, re.ErrorCode,
				re.ErrorDescription, re.Response.Header.Get("Retry-After"), re.Response.Header.Get("Cache-Control"))
		}
	}
	if after := keys(); after > before {
		t.Fatalf("refused grants wrote to the store: %d keys before, %d after", before, after)
	}
	e.signedIn("bob@example.com")
	if st, body, err := e.refreshOnce(signedIn["refresh_token"].(string), ""); err != nil || st != 200 {
		t.Fatalf("refresh past the client_credentials budget: %d %v %v", st, body, err)
	}
}
