package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

// doHeaders sends method path with every Authorization value of auths as a header of its own.
func doHeaders(t *testing.T, url, method string, auths []string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range auths {
		req.Header.Add("Authorization", v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// TestTheAppAPIRefusesTwoAuthorizationHeaders: the app-backend routes read only the first of
// two Authorization headers (r.Header.Get), so a request with the right Basic credentials
// first and anything after it was served, while the token endpoint refuses any request with
// more than one header as 401 invalid_client (oauth.ClientFromRequest). A proxy or logger
// that reads the last header would see other credentials than LoginSign acted on. Now the
// app API answers 401 invalid_client for two headers, in whatever order and scheme.
func TestTheAppAPIRefusesTwoAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, _ := e.client(t)
		other, otherSecret, _ := e.client(t)
		good := basic(app.ID, secret)
		cc := e.do(t, "POST", "/oauth/token", form, "grant_type=client_credentials",
			map[string]string{"Authorization": good}, nil)
		tok, _ := cc.body["access_token"].(string)
		if tok == "" {
			t.Fatalf("client_credentials: %v", cc.body)
		}
		users := e.srv.URL + "/api/applications/" + app.ID + "/users"
		if a := doHeaders(t, users, "GET", []string{good}); a.status != 200 {
			t.Fatalf("one Basic header = %d %v", a.status, a.body)
		}
		if a := doHeaders(t, users, "GET", []string{"Bearer " + tok}); a.status != 200 {
			t.Fatalf("one Bearer header = %d %v", a.status, a.body)
		}
		for name, auths := range map[string][]string{
			"the same Basic twice":            {good, good},
			"right Basic, then a wrong one":   {good, basic(app.ID, "lss_wrong")},
			"right Basic, then another app's": {good, basic(other.ID, otherSecret)},
			"right Basic, then a Bearer":      {good, "Bearer " + tok},
			"a Bearer, then right Basic":      {"Bearer " + tok, good},
			"an empty one, then right Basic":  {"", good},
		} {
			a := doHeaders(t, users, "GET", auths)
			if a.status != 401 || a.body["error"] != "invalid_client" {
				t.Errorf("%s: %d %v, want 401 invalid_client", name, a.status, a.body)
			}
		}
	})
}

// TestTheBearerRoutesRefuseTwoAuthorizationHeadersWhateverTheFirst: a request with an empty
// Authorization header and then a Bearer one was answered as if it carried no credentials
// (401 with the bare challenge) by the Bearer routes, and served without the token (the
// session cookie's person) by OptionalBearer's routes, which looked at the first header only.
// Two headers are 400 invalid_request on every Bearer route, whichever comes first.
func TestTheBearerRoutesRefuseTwoAuthorizationHeadersWhateverTheFirst(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		two := []string{"", "Bearer abc"}
		if a := doHeaders(t, e.srv.URL+"/api/user", "GET", two); a.status != 400 || a.body["error"] != "invalid_request" {
			t.Errorf("GET /api/user with two headers = %d %v, want 400 invalid_request", a.status, a.body)
		}
		var passed atomic.Bool
		h := e.api.OptionalBearer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { passed.Store(true) }))
		srv := httptest.NewServer(h)
		defer srv.Close()
		if a := doHeaders(t, srv.URL, "GET", two); a.status != 400 || passed.Load() {
			t.Errorf("OptionalBearer with two headers = %d (passed through: %v), want 400", a.status, passed.Load())
		}
		passed.Store(false)
		if a := doHeaders(t, srv.URL, "GET", nil); a.status != 200 || !passed.Load() {
			t.Errorf("OptionalBearer without a header = %d (passed through: %v), want it passed through", a.status, passed.Load())
		}
	})
}

// TestTheAppAPIRefusesRepeatedOrMalformedQueryParameters: GET …/users read the first of
// repeated parameters (?limit=1&limit=100000 served limit 1, while a gateway that keeps the
// last one logs or enforces 100000) and dropped a pair it could not decode (?cursor=%zz listed
// from the start, as if no cursor were sent). Both are 400 invalid_request in the app
// routes' shape now; the developer routes share the rule (query).
func TestTheAppAPIRefusesRepeatedOrMalformedQueryParameters(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, secret, cookie := e.client(t)
		h := map[string]string{"Authorization": basic(app.ID, secret)}
		users := "/api/applications/" + app.ID + "/users"
		if a := e.do(t, "GET", users+"?limit=5", "", "", h, nil); a.status != 200 {
			t.Fatalf("one limit = %d %v", a.status, a.body)
		}
		for _, q := range []string{"?limit=1&limit=100000", "?limit=5&limit=5", "?cursor=%zz", "?limit=%"} {
			a := e.do(t, "GET", users+q, "", "", h, nil)
			if a.status != 400 || a.body["error"] != "invalid_request" || a.body["error_description"] == nil {
				t.Errorf("GET users%s = %d %v, want 400 invalid_request with error_description", q, a.status, a.body)
			}
		}
		imp := "/api/developer/applications/" + app.ID + "/import-existing-users/csv"
		csv := "user_id,email\nu1,x@example.com\n"
		if a := e.do(t, "POST", imp+"?sourceName=a", "text/csv", csv, nil, cookie); a.status != 200 {
			t.Fatalf("import with one sourceName = %d %v", a.status, a.body)
		}
		if a := e.do(t, "POST", imp+"?sourceName=a&sourceName=b", "text/csv", csv, nil, cookie); a.status != 400 || a.body["error"] != "invalid_request" {
			t.Errorf("import with sourceName twice = %d %v, want 400 invalid_request", a.status, a.body)
		}
	})
}

// TestTheDevelopersUsersListRefusesRepeatedFilters: GET …/users kept the first of a repeated
// filter (?active=true&active=false listed the active users); it is 400 now, as every REST
// route's repeated parameter (query).
func TestTheDevelopersUsersListRefusesRepeatedFilters(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, _, cookie := e.client(t)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/developer/applications/{appId}/users", e.api.DeveloperUsers)
		srv := httptest.NewServer(e.api.Sessions(mux))
		defer srv.Close()
		get := func(q string) int {
			req, _ := http.NewRequest("GET", srv.URL+"/api/developer/applications/"+app.ID+"/users"+q, nil)
			req.AddCookie(cookie)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := get("?active=true"); s != 200 {
			t.Fatalf("one filter = %d", s)
		}
		if s := get("?active=true&active=false"); s != 400 {
			t.Errorf("a repeated filter = %d, want 400", s)
		}
	})
}

// TestTheHealthcheckRefusesARepeatedClientID: GET /api/oauth/healthcheck answered for the first
// of two client_id (or redirect_uri) parameters; it is 400 now.
func TestTheHealthcheckRefusesARepeatedClientID(t *testing.T) {
	t.Parallel()
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, _, _ := e.client(t)
		other, _, _ := e.client(t)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/oauth/healthcheck", e.api.Healthcheck)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		cb := "&redirect_uri=" + url.QueryEscape(app.RedirectUris[0])
		if a := doHeaders(t, srv.URL+"/api/oauth/healthcheck?client_id="+app.ID+cb, "GET", nil); a.status != 200 {
			t.Fatalf("one client_id = %d %v", a.status, a.body)
		}
		if a := doHeaders(t, srv.URL+"/api/oauth/healthcheck?client_id="+app.ID+"&client_id="+other.ID+cb, "GET", nil); a.status != 400 {
			t.Errorf("two client_id = %d %v, want 400", a.status, a.body)
		}
	})
}
