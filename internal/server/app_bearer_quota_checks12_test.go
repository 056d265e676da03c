package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestAppBearerCallsCountAgainstTheQuota: the application's clientRequestsPerMinute limits
// the successful calls of the app-backend routes (README, Limits: "The same routes, successful
// calls"). A backend that took one client_credentials token and called with
// Authorization: Bearer was counted by none of them: the quota bounded only HTTP Basic. Past
// it, a Bearer call answers 429 rate_limited with Retry-After, as a Basic one does.
func TestAppBearerCallsCountAgainstTheQuota(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	const quota = 4
	if code, _, body := e.call("PATCH", "/api/developer/applications/"+e.app.ID, map[string]any{"clientRequestsPerMinute": quota}, nil, e.cookie(e.dev)); code != 200 {
		t.Fatalf("setting the quota = %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", e.url+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic(e.app.ID, e.secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("client_credentials = %d %v", resp.StatusCode, err)
	}
	h := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	users := "/api/applications/" + e.app.ID + "/users"
	answered := 0
	for range 3 * quota {
		code, hdr, body := e.call("GET", users, nil, h, nil)
		if code == 200 {
			answered++
			continue
		}
		if code != 429 || body != `{"error":"rate_limited","error_description":"too many requests; retry later"}` || hdr.Get("Retry-After") == "" {
			t.Fatalf("a Bearer call past the quota = %d %s %v", code, body, hdr)
		}
	}
	// The token request was one of the quota's calls.
	if answered != quota-1 {
		t.Errorf("%d of %d Bearer calls answered with a quota of %d a minute (one spent on the token), want %d", answered, 3*quota, quota, quota-1)
	}
	// The status route too; another application is counted apart.
	code, _, _ := e.call("PATCH", users+"/ZZ9999/status", map[string]any{"revoke": true}, h, nil)
	if code != 429 {
		t.Errorf("a Bearer status sync past the quota = %d, want 429", code)
	}
	if code, _, _ := e.call("GET", "/api/applications/"+e.rivalApp.ID+"/users", nil, map[string]string{"Authorization": basic(e.rivalApp.ID, e.rivalSec)}, nil); code != 200 {
		t.Errorf("another client = %d", code)
	}
}
