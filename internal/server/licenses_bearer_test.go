package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/licenses"
)

// TestLicensesWithBearerToken signs a person in to the app with the real OAuth flow
// (x/oauth2 + PKCE) and uses the app's access token on the person's license routes.
func TestLicensesWithBearerToken(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		code, verifier := e.authorizeCode(e.browser(), defaultTestEmail)
		tok, err := e.config(e.app, rpCallback).Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		_, me, _ := e.apiUser(tok.AccessToken)
		connID, _ := me["id"].(string)

		ctx := context.Background()
		app, err := e.srv.db.Application.Get(ctx, e.app.ID)
		if err != nil {
			t.Fatal(err)
		}
		dev := auth.WithSession(ctx, auth.Session{UserID: app.OwnerID, SignedInAt: time.Now()})
		v, err := e.srv.licenses.CreateVariant(dev, app.ID, licenses.VariantInput{Name: "Pro", Duration: "YEAR"})
		if err != nil {
			t.Fatal(err)
		}
		g, err := e.srv.licenses.GenerateCodes(dev, app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 2})
		if err != nil {
			t.Fatal(err)
		}

		call := func(method, path, bearer string, body any) (int, string) {
			t.Helper()
			var r io.Reader
			if body != nil {
				b, _ := json.Marshal(body)
				r = bytes.NewReader(b)
			}
			req, _ := http.NewRequest(method, e.base+path, r)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, strings.TrimSpace(string(out))
		}
		status, body := call("POST", "/api/user/licenses/redeem", tok.AccessToken, map[string]any{"code": g.Codes[0]})
		var l map[string]any
		json.Unmarshal([]byte(body), &l)
		if status != 200 || l["state"] != "ACTIVE" || l["linkedConnectionId"] != connID || connID == "" {
			t.Fatalf("redeem with a Bearer token = %d %s (connection %q)", status, body, connID)
		}
		status, body = call("GET", "/api/user/licenses/subscriptions", tok.AccessToken, nil)
		if status != 200 || !strings.Contains(body, `"connectionId":"`+connID+`"`) || !strings.Contains(body, g.Codes[0]) {
			t.Fatalf("subscriptions with a Bearer token = %d %s", status, body)
		}
		status, body = call("GET", "/api/user/licenses/subscriptions?client_id=app_other", tok.AccessToken, nil)
		if status != 403 {
			t.Fatalf("token of another application = %d %s", status, body)
		}
		status, body = call("POST", "/api/user/licenses/redeem", "not-a-token", map[string]any{"code": g.Codes[1]})
		if status != 401 || !strings.Contains(body, "invalid_token") {
			t.Fatalf("bad token = %d %s", status, body)
		}
	})
}
