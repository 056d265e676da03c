package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"loginsign/internal/profile"
)

// The export's "sees" of a connection is what the application is shown of the person, field
// by field: globalId, region (written to the connection at sign-in) and name as its users
// list shows them, the address and the picture as GET /api/user gives them (the relay alias
// when no address is shared; the picture with the profile scope only).
// Ann granted profile; Bob did not, so his name and picture stay his own. On every backend.
func TestDataExportSeesWhatTheAppSees(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		type person struct {
			email, region string
			scopes        []string
			b             *browser
			token         string
		}
		people := []*person{
			{email: "ann@example.com", region: "DE", scopes: []string{"openid", "email", "profile"}},
			{email: "bob@example.com", region: "FR", scopes: []string{"openid", "email"}},
		}
		for _, p := range people {
			// A name, a region and a picture before the first sign-in: the connection is made
			// with the region, and both have a picture the app may or may not be shown.
			u, _, err := e.srv.identity.EnsureUser(ctx, p.email)
			if err != nil {
				t.Fatal(err)
			}
			name := "Person " + p.region
			if _, err := e.srv.profiles.UpdateProfile(as(u.ID), profile.Update{Name: &name, Region: &p.region}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.profiles.SetPicture(as(u.ID), testPNG(t, 32, 32)); err != nil {
				t.Fatal(err)
			}
			p.b = e.browser()
			code, verifier := e.authorizeCodeScopes(p.b, p.email, p.scopes...)
			st, tokens, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
			if st != 200 {
				t.Fatalf("%s: token %d %v", p.email, st, tokens)
			}
			p.token = tokens["access_token"].(string)
		}

		dev := e.browser()
		dev.signInTo("dev@example.com")
		st, list := dev.api(http.MethodGet, "/api/developer/applications/"+e.app.ID+"/users", nil)
		if st != 200 {
			t.Fatalf("users list: %d %v", st, list)
		}
		listed := map[string]map[string]any{}
		for _, u := range list["users"].([]any) {
			listed[u.(map[string]any)["id"].(string)] = u.(map[string]any)
		}

		for _, p := range people {
			resp, err := p.b.Get(e.base + "/api/account/export")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var doc struct {
				Connections []struct {
					ID   string
					Sees map[string]any
				}
			}
			if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || len(doc.Connections) != 1 {
				t.Fatalf("%s: export %d %s", p.email, resp.StatusCode, body)
			}
			conn := doc.Connections[0]
			row := listed[conn.ID]
			st, info, _ := e.apiUser(p.token)
			if row == nil || st != 200 || info["sub"] != conn.ID {
				t.Fatalf("%s: connection %s; users list %v; /api/user %d %v", p.email, conn.ID, list, st, info)
			}
			// "sees" field -> what the application is shown.
			want := map[string]any{
				"globalId": row["globalId"],
				"region":   row["region"],
				"name":     row["name"],
				"email":    info["email"],
				"picture":  info["picture"],
			}
			for k, w := range want {
				if got := conn.Sees[k]; got != w {
					t.Errorf("%s: export sees.%s = %v; the app is shown %v", p.email, k, got, w)
				}
			}
			if row["region"] == nil || row["globalId"] == nil {
				t.Errorf("%s: the users list shows no region or Global User ID: %v", p.email, row)
			}
			if profileGranted := len(p.scopes) == 3; profileGranted != (info["picture"] != nil) || info["image"] != info["picture"] {
				t.Errorf("%s: /api/user picture %v image %v with scopes %v", p.email, info["picture"], info["image"], p.scopes)
			}
		}
	})
}
