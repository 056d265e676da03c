package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// sweepRoute is one route of the sweep: its method, its path with real ids, and who calls it.
type sweepRoute struct {
	method, path string
	who          string // "dev" (session cookie), "app" (Basic), "none"
}

// TestBadInputSweepNeverAnswers5xx sends every REST route and form page a battery of bad
// inputs (malformed, nested, duplicated, mistyped, null, out-of-range, invalid UTF-8, NUL,
// thousands of query parameters, odd path bytes, HEAD/OPTIONS, wrong Content-Type) and
// expects no 5xx and, for JSON answers, an error body of the route's documented shape
// (validated checks the shape against openapi.yaml).
func TestBadInputSweepNeverAnswers5xx(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	cookie := "ls_session=" + e.cookie(e.dev).Value
	app := "/api/developer/applications/" + e.app.ID
	routes := []sweepRoute{
		{"POST", "/oauth/token", "none"}, {"POST", "/oauth/revoke", "none"}, {"POST", "/oauth/introspect", "none"},
		{"POST", "/oauth/par", "none"}, {"GET", "/api/user", "none"}, {"POST", "/api/user", "none"},
		{"GET", "/api/user/licenses/subscriptions", "dev"}, {"POST", "/api/user/licenses/redeem", "dev"},
		{"PUT", "/api/profile/picture", "dev"}, {"DELETE", "/api/profile/picture", "dev"},
		{"GET", "/pictures/xyz", "none"},
		{"GET", "/api/applications/" + e.app.ID + "/users", "app"},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/AB1234/status", "app"},
		{"GET", "/api/developer/applications", "dev"}, {"POST", "/api/developer/applications", "dev"},
		{"GET", app, "dev"}, {"PATCH", app, "dev"},
		{"GET", app + "/users", "dev"}, {"PATCH", app + "/users/conn_x", "dev"}, {"DELETE", app + "/users/conn_x", "dev"},
		{"PATCH", app + "/users/conn_x/email", "dev"},
		{"POST", app + "/email-sync-api/test", "dev"}, {"POST", app + "/current-logins-sync-api/test", "dev"},
		{"POST", app + "/import-existing-users/csv", "dev"},
		{"GET", app + "/import-sources", "dev"}, {"GET", app + "/import-sources/src_x", "dev"},
		{"POST", app + "/import-sources/src_x/rollback", "dev"},
		{"GET", app + "/activity", "dev"}, {"GET", app + "/users/export", "dev"},
		{"GET", app + "/members", "dev"}, {"GET", app + "/members/invitations", "dev"},
		{"POST", app + "/members/invitations", "dev"}, {"DELETE", app + "/members/invitations/inv_x", "dev"},
		{"PATCH", app + "/members/usr_x", "dev"}, {"DELETE", app + "/members/usr_x", "dev"},
		{"POST", app + "/transfer", "dev"}, {"DELETE", app + "/transfer", "dev"},
		{"GET", "/api/developer/invitations", "dev"}, {"POST", "/api/developer/invitations/accept", "dev"},
		{"GET", "/api/account/export", "dev"},
		{"GET", app + "/licenses/variants", "dev"}, {"POST", app + "/licenses/variants", "dev"},
		{"PATCH", app + "/licenses/variants/var_x", "dev"}, {"DELETE", app + "/licenses/variants/var_x", "dev"},
		{"POST", app + "/licenses/codes/generate", "dev"}, {"POST", app + "/licenses/codes/upload", "dev"},
		{"GET", app + "/licenses/codes", "dev"}, {"DELETE", app + "/licenses/codes/code_x", "dev"},
		{"GET", app + "/webhook/events", "dev"}, {"POST", app + "/webhook/events/evt_x/redeliver", "dev"},
		{"POST", app + "/webhook/test", "dev"},
		{"GET", "/oauth/authorize", "none"}, {"POST", "/oauth/authorize", "none"},
		{"GET", "/oauth/consent", "dev"}, {"POST", "/oauth/consent", "dev"},
		{"POST", "/login", "none"}, {"POST", "/login/resend", "none"}, {"POST", "/login/code", "none"},
		{"GET", "/login/waiting", "none"}, {"POST", "/login/waiting", "none"},
		{"GET", "/login/passkey", "none"}, {"POST", "/login/passkey", "none"},
		{"POST", "/logout", "dev"}, {"GET", "/oauth/logout", "none"}, {"POST", "/oauth/logout", "none"},
		{"GET", "/embed/banner", "none"}, {"GET", "/embed/login", "none"},
	}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObj := `{"name":` + strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000) + "}"
	huge := "[" + strings.Repeat("1,", 200000) + "1]"
	bodies := []struct{ name, ct, body string }{
		{"malformed", "application/json", `{"a":`},
		{"array", "application/json", `[]`},
		{"null", "application/json", `null`},
		{"deep array", "application/json", deep},
		{"deep object", "application/json", deepObj},
		{"huge array", "application/json", `{"users":` + huge + `}`},
		{"duplicate keys", "application/json", `{"name":"a","name":"b"}`},
		{"wrong types", "application/json", `{"name":1,"count":"x","revoke":"yes","role":[],"variantId":{},"redirectUris":"x","email":true,"code":5}`},
		{"nulls", "application/json", `{"name":null,"count":null,"revoke":null,"role":null,"variantId":null,"redirectUris":null,"email":null,"code":null,"users":null}`},
		{"out of range", "application/json", `{"count":1e400,"clientRequestsPerMinute":99999999999999999999999,"durationDays":-9223372036854775808}`},
		{"out of range 2", "application/json", `{"variantId":"v","count":9223372036854775807,"clientRequestsPerMinute":-1}`},
		{"invalid utf-8", "application/json", "{\"name\":\"\xff\xfe\"}"},
		{"nul", "application/json", `{"name":"a\u0000b","email":"a\u0000@x.test","code":"\u0000"}`},
		{"two values", "application/json", `{} {}`},
		{"form", "application/x-www-form-urlencoded", "a=1&a=2&email=x%00y&email=z&code=1&code=2&grant_type=a&grant_type=b"},
		{"form bad utf8", "application/x-www-form-urlencoded", "email=%ff%fe&code=%ff"},
		{"form malformed", "application/x-www-form-urlencoded", "a=%zz&;;&=&"},
		{"xml", "application/xml", `<a/>`},
		{"bad content type", "application/json; =;charset", `{}`},
		{"multipart no boundary", "multipart/form-data", "--x\r\n"},
		{"multipart many parts", "multipart/form-data; boundary=x", strings.Repeat("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n", 20000) + "--x--\r\n"},
		{"multipart huge header", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nX: " + strings.Repeat("a", 900000) + "\r\n\r\nv\r\n--x--\r\n"},
		{"csv nul", "text/csv", "email,externalUserId\na\x00@x.test,1\n"},
		{"csv bad utf8", "text/csv", "email,externalUserId\n\xff@x.test,1\n"},
		{"csv quotes", "text/csv", "email,\"externalUserId\n\"a\"b,\"\n"},
	}
	many := url.Values{}
	for i := range 5000 {
		many.Add(fmt.Sprintf("p%d", i), "x")
	}
	queries := []string{many.Encode(), "limit=-1", "limit=99999999999999999999999", "limit=1&limit=2",
		"cursor=%00", "cursor=" + strings.Repeat("Z", 5000), "first=0", "offset=-5", "since=notatime",
		"from=9999-99-99", "status=%FF", "search=" + strings.Repeat("%25", 2000), "q=a&q=b", "sort=;drop"}
	check := func(t *testing.T, rt sweepRoute, what string, method, path, ct, body string) {
		t.Helper()
		h := map[string]string{}
		switch rt.who {
		case "dev":
			h["Cookie"] = cookie
			h["Origin"] = e.url
		case "app":
			h["Authorization"] = basic(e.app.ID, e.secret)
		}
		var b = strings.NewReader(body)
		code, hdr, out := e.send(method, path, ct, b, int64(len(body)), false, h)
		if code >= 500 {
			t.Errorf("%s %s %s: %d %.300s", what, method, path, code, out)
			return
		}
		if code >= 400 && strings.HasPrefix(hdr.Get("Content-Type"), "application/json") && method != "HEAD" {
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil || (m["error"] == nil && m["errors"] == nil) {
				t.Errorf("%s %s %s: %d, not an error body: %.300s", what, method, path, code, out)
			}
		}
	}
	gets := map[string]bool{}
	for _, rt := range routes {
		gets[rt.path] = gets[rt.path] || rt.method == "GET"
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for _, bd := range bodies {
				if rt.method == "GET" || rt.method == "DELETE" {
					break
				}
				check(t, rt, bd.name, rt.method, rt.path, bd.ct, bd.body)
			}
			for _, q := range queries {
				check(t, rt, "query "+q[:min(len(q), 30)], rt.method, rt.path+"?"+q, "", "")
			}
			for _, m := range []string{"HEAD", "OPTIONS", "PUT", "TRACE", "CONNECT"} {
				if m == "HEAD" && gets[rt.path] {
					continue // GET's HEAD answers 200; openapi.yaml does not list HEAD (validated)
				}
				check(t, rt, "method", m, rt.path, "", "")
			}
		})
	}
	// Odd path bytes in each id.
	for _, id := range []string{"%00", "a%2Fb", "%FF", strings.Repeat("x", 5000), "a%20b", "%C0%AF"} {
		for _, p := range []string{"/api/developer/applications/" + id, app + "/users/" + id, app + "/import-sources/" + id,
			app + "/licenses/variants/" + id, app + "/licenses/codes/" + id, app + "/members/" + id,
			app + "/members/invitations/" + id, app + "/webhook/events/" + id + "/redeliver",
			"/api/applications/" + id + "/users", "/api/applications/" + e.app.ID + "/users/" + id + "/status",
			"/pictures/" + id, "/login/magic/" + id} {
			for _, m := range []string{"GET", "PATCH", "DELETE", "POST"} {
				rt := sweepRoute{m, p, "dev"}
				if strings.HasPrefix(p, "/api/applications/") {
					rt.who = "app"
				}
				check(t, rt, "path "+id[:min(len(id), 10)], m, p, "application/json", `{}`)
			}
		}
	}
}

// TestEdgeValuesInWellFormedBodiesAre4xx sends each JSON route a body of its documented shape
// whose values are at or past their edges (huge lists, long strings, numbers out of range,
// odd durations and dates, look-alike ids), and expects no 5xx.
func TestEdgeValuesInWellFormedBodiesAre4xx(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	cookie := "ls_session=" + e.cookie(e.dev).Value
	dev := map[string]string{"Cookie": cookie, "Origin": e.url}
	appH := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
	app := "/api/developer/applications/" + e.app.ID
	code, _, out := e.call("POST", app+"/licenses/variants", map[string]any{"name": "Pro", "duration": "MONTH"}, dev, nil)
	if code != 201 {
		t.Fatalf("variant: %d %s", code, out)
	}
	variant := decode[map[string]any](t, out)["id"].(string)
	conn := e.connect(e.person("p@example.com", "P"), e.app, e.now)
	long := strings.Repeat("a", 70000)
	manyURIs := make([]string, 5000)
	for i := range manyURIs {
		manyURIs[i] = fmt.Sprintf("https://app.example.com/cb%d", i)
	}
	manyCodes := make([]string, 120000)
	for i := range manyCodes {
		manyCodes[i] = fmt.Sprintf("C%07d", i)
	}
	type c struct {
		method, path string
		h            map[string]string
		body         any
	}
	cases := []c{
		{"POST", "/api/developer/applications", dev, map[string]any{"name": "x", "redirectUris": manyURIs}},
		{"POST", "/api/developer/applications", dev, map[string]any{"name": long, "redirectUris": []string{"https://app.example.com/" + long}}},
		{"POST", "/api/developer/applications", dev, map[string]any{"name": "x", "redirectUris": []string{"https://app.example.com/cb"}, "clientRequestsPerMinute": 1 << 62}},
		{"POST", "/api/developer/applications", dev, map[string]any{"name": "x", "redirectUris": []string{"https://app.example.com/cb"}, "clientRequestsPerMinute": -1}},
		{"POST", "/api/developer/applications", dev, map[string]any{"name": "x", "redirectUris": []string{"https://[::1", "javascript:alert(1)", "https://app.example.com/\u2028"}}},
		{"POST", "/api/developer/applications", dev, `{"name":"x","redirectUris":[null,null]}`},
		{"POST", "/api/developer/applications", dev, `{"name":"x","redirectUris":["https://app.example.com/cb"],"clientRequestsPerMinute":1.5}`},
		{"POST", "/api/developer/applications", dev, `{"name":"x","redirectUris":["https://app.example.com/cb"],"clientRequestsPerMinute":1e30}`},
		{"PATCH", app, dev, map[string]any{"allowedOrigins": manyURIs}},
		{"PATCH", app, dev, map[string]any{"postLogoutRedirectUris": manyURIs}},
		{"PATCH", app, dev, map[string]any{"webhookUrl": "https://" + long + ".example.com/"}},
		{"PATCH", app, dev, map[string]any{"iconUrl": "data:image/png;base64," + long}},
		{"PATCH", app, dev, map[string]any{"idTokenSigningAlg": "none"}},
		{"PATCH", app, dev, map[string]any{"backchannelLogoutUri": "http://169.254.169.254/"}},
		{"PATCH", app, dev, map[string]any{"clientRequestsPerMinute": 2147483648}},
		{"PATCH", app, dev, map[string]any{"clientRequestsPerMinute": 9223372036854775807}},
		{"PATCH", app, dev, `{"clientRequestsPerMinute":-9223372036854775808}`},
		{"PATCH", app, dev, `{"name":null,"redirectUris":null,"clientRequestsPerMinute":null}`},
		{"PATCH", app, dev, map[string]any{"redirectUris": []string{}}},
		{"PATCH", app + "/users/" + conn.ID, dev, map[string]any{"appEmail": long + "@example.com"}},
		{"PATCH", app + "/users/" + conn.ID, dev, map[string]any{"appEmail": "a@" + long}},
		{"PATCH", app + "/users/" + conn.ID, dev, map[string]any{"appEmail": "\"a b\"@[127.0.0.1]"}},
		{"PATCH", app + "/users/" + conn.ID + "/email", dev, map[string]any{"email": "x@" + strings.Repeat("a.", 500) + "com"}},
		{"PATCH", app + "/users/" + conn.ID + "/email", dev, map[string]any{"email": "=?utf-8?b?YQ==?=@example.com"}},
		{"PATCH", app + "/users/" + conn.ID + "/email", dev, map[string]any{"email": "a@example.com\r\nBcc: b@example.com"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": long, "duration": "1 month"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V2", "duration": "99999999999999999999 years"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V3", "duration": "9223372036854775807 days"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V4", "duration": "-1 month"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V5", "duration": "P1000000Y"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V6", "duration": "2147483648 months"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V7", "duration": "1e9 days"}},
		{"POST", app + "/licenses/variants", dev, map[string]any{"name": "V8", "duration": "lifetime", "description": long}},
		{"PATCH", app + "/licenses/variants/" + variant, dev, map[string]any{"duration": "9999999 years"}},
		{"PATCH", app + "/licenses/variants/" + variant, dev, map[string]any{"name": "", "duration": ""}},
		{"POST", app + "/licenses/codes/generate", dev, map[string]any{"variantId": variant, "count": 1 << 40}},
		{"POST", app + "/licenses/codes/generate", dev, map[string]any{"variantId": variant, "count": -5}},
		{"POST", app + "/licenses/codes/generate", dev, map[string]any{"variantId": variant, "count": 2, "prefix": long[:10000]}},
		{"POST", app + "/licenses/codes/generate", dev, map[string]any{"variantId": variant, "count": 2, "prefix": "日本語-\u200b"}},
		{"POST", app + "/licenses/codes/upload", dev, map[string]any{"variantId": variant, "codes": manyCodes}},
		{"POST", app + "/licenses/codes/upload", dev, map[string]any{"variantId": variant, "codes": []string{long[:5000], "", " ", "a,b", "\u00e9\u0301"}}},
		{"POST", app + "/licenses/codes/upload", dev, `{"variantId":"` + variant + `","codes":[null,1]}`},
		{"POST", app + "/members/invitations", dev, map[string]any{"email": "a@example.com", "role": "owner"}},
		{"POST", app + "/members/invitations", dev, map[string]any{"email": "a@example.com", "role": long[:3000]}},
		{"PATCH", app + "/members/" + e.dev.ID, dev, map[string]any{"role": "developer"}},
		{"PATCH", app + "/members/" + e.dev.ID, dev, map[string]any{"role": "OWNER"}},
		{"POST", app + "/transfer", dev, map[string]any{"email": e.dev.Email}},
		{"POST", app + "/transfer", dev, map[string]any{"userId": e.dev.ID}},
		{"POST", app + "/transfer", dev, map[string]any{"userId": e.rival.ID, "email": "x@example.com"}},
		{"POST", "/api/developer/invitations/accept", dev, map[string]any{"token": long[:4000]}},
		{"POST", "/api/developer/invitations/accept", dev, map[string]any{"invitationId": "inv_" + long[:100], "token": "x"}},
		{"POST", "/api/user/licenses/redeem", dev, map[string]any{"code": long[:4000], "applicationId": e.app.ID}},
		{"POST", "/api/user/licenses/redeem", dev, map[string]any{"code": "ABC", "client_id": "app_" + long[:100]}},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/AB1234/status", appH, map[string]any{"expiresAt": "9999-12-31T23:59:59Z"}},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/AB1234/status", appH, map[string]any{"expiresAt": "0001-01-01T00:00:00Z"}},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/AB1234/status", appH, map[string]any{"expiresAt": "2026-01-01T00:00:00+25:00"}},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/AB1234/status", appH, map[string]any{"status": "ACTIVE", "variantName": long[:1000], "duration": "99999 years"}},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/" + strings.Repeat("Z", 300) + "/status", appH, map[string]any{"revoke": true}},
		{"PATCH", "/api/applications/" + e.app.ID + "/users/a%00b/status", appH, map[string]any{"revoke": true}},
	}
	for _, tc := range cases {
		code, _, out := e.call(tc.method, tc.path, tc.body, tc.h, nil)
		desc := fmt.Sprintf("%.150v", tc.body)
		if code >= 500 {
			t.Errorf("%s %s %s: %d %.300s", tc.method, tc.path[:min(len(tc.path), 120)], desc, code, out)
		} else {
			t.Logf("%s %s %s: %d %.200s", tc.method, tc.path[:min(len(tc.path), 120)], desc, code, out)
		}
	}
}

// TestPageAndOAuthParametersAtTheirEdges sends the OAuth endpoints and the sign-in, account
// and portal pages parameters at or past their edges, with and without a session, and
// expects no 5xx.
func TestPageAndOAuthParametersAtTheirEdges(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	cookie := "ls_session=" + e.cookie(e.dev).Value
	long := strings.Repeat("a", 9000)
	authz := url.Values{"client_id": {e.app.ID}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"s"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range authz {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	odd := []string{"max_age", "99999999999999999999", "max_age", "-1", "max_age", "9999999999", "prompt", "none login consent select_account create",
		"claims", `{"userinfo":{"email":{"essential":true}}}`, "claims", strings.Repeat(`{"a":`, 5000), "request", "eyJhbGciOiJub25lIn0.eyJ9.",
		"request_uri", "urn:ietf:params:oauth:request_uri:" + long[:100], "id_token_hint", "a.b.c", "id_token_hint", long[:8000],
		"login_hint", long, "ui_locales", "zz-ZZ-x-" + long[:100], "acr_values", long[:1000], "scope", strings.Repeat("openid ", 3000),
		"response_mode", "form_post.jwt", "nonce", long[:5000], "display", "\x01", "code_challenge", long[:200], "resource", "http://[::1",
		"redirect_uri", "https://app.example.com/cb?x=" + long[:3000], "response_type", "code id_token token", "registration", "{}"}
	var targets []struct{ method, path, ct, body string }
	add := func(method, path, ct, body string) {
		targets = append(targets, struct{ method, path, ct, body string }{method, path, ct, body})
	}
	for i := 0; i+1 < len(odd); i += 2 {
		q := with(odd[i], odd[i+1])
		add("GET", "/oauth/authorize?"+q, "", "")
		add("POST", "/oauth/authorize", "application/x-www-form-urlencoded", q)
		add("POST", "/oauth/par", "application/x-www-form-urlencoded", q+"&client_secret="+e.secret)
	}
	tokenBodies := []string{
		"grant_type=authorization_code&code=" + long[:4000] + "&redirect_uri=x&code_verifier=" + long[:200],
		"grant_type=authorization_code&code=abc&code_verifier=%00",
		"grant_type=refresh_token&refresh_token=" + long[:5000],
		"grant_type=client_credentials&scope=" + url.QueryEscape(strings.Repeat("x ", 10000)),
		"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c",
		"grant_type=authorization_code&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=" + long[:5000],
		"grant_type=authorization_code&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=eyJ" + strings.Repeat("W", 3000) + ".e30.",
		"grant_type=authorization_code&client_id=" + e.app.ID + "&client_id=" + e.rivalApp.ID,
		"grant_type=password&username=a&password=b",
		"token=" + long[:5000] + "&token_type_hint=" + long[:100],
	}
	for _, b := range tokenBodies {
		for _, p := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect"} {
			add("POST", p, "application/x-www-form-urlencoded", b+"&client_secret="+e.secret+"&client_id="+e.app.ID)
			add("POST", p, "application/x-www-form-urlencoded", b)
		}
	}
	for _, q := range []string{"id_token_hint=" + long[:8000], "id_token_hint=eyJhbGciOiJFUzI1NiJ9." + strings.Repeat("e30", 100) + ".AA",
		"post_logout_redirect_uri=https://app.example.com/x&client_id=" + e.app.ID, "client_id=" + long[:300], "ui_locales=" + long[:64],
		"state=" + long[:5000], "logout_hint=" + long[:254]} {
		add("GET", "/oauth/logout?"+q, "", "")
		add("POST", "/oauth/logout", "application/x-www-form-urlencoded", q)
	}
	for _, p := range []string{"/dashboard/emails/verify", "/account/email-change/confirm", "/account/email-change/cancel",
		"/account/two-step/undo", "/login/magic", "/login/magic/approve", "/login/verify", "/login/code", "/login/waiting", "/login/resend",
		"/login/passkey", "/oauth/consent", "/account/email-change/code", "/login"} {
		for _, q := range []string{"token=" + long[:5000], "token=%00", "token=a&token=b", "flow=" + long[:3000], "flow=x&flow=y",
			"code=" + long[:2000], "code=%FF", "email=" + long[:3000] + "@example.com", "return_to=//evil.example", "lang=" + long[:100]} {
			add("GET", p+"?"+q, "", "")
			add("POST", p, "application/x-www-form-urlencoded", q)
			add("POST", p+"?"+q, "application/json", `{"token":1}`)
		}
		add("POST", p, "application/x-www-form-urlencoded", `credential=`+url.QueryEscape(`{"id":"`+long[:4000]+`","response":{"clientDataJSON":"`+long[:4000]+`"}}`))
		add("POST", p, "application/x-www-form-urlencoded", `credential=`+url.QueryEscape(strings.Repeat("[", 10000)))
	}
	for _, p := range []string{"/portal", "/portal/apps", "/portal/apps/" + long[:300], "/portal/apps/%00", "/portal/users", "/portal/licenses",
		"/portal/synchronisation", "/portal/invitation", "/dashboard", "/embed/banner", "/embed/login", "/"} {
		for _, q := range []string{"", "token=" + long[:5000], "client_id=" + long[:300], "appId=a&appId=b", "page=-1", "page=99999999999999999999",
			"theme=" + long[:100], "origin=javascript:x", "lang=" + long[:100]} {
			add("GET", p+"?"+q, "", "")
		}
	}
	for _, tc := range targets {
		for _, h := range []map[string]string{nil, {"Cookie": cookie, "Origin": e.url}} {
			code, out := sendNoRedirect(t, e.url, tc.method, tc.path, tc.ct, tc.body, h)
			if code >= 500 {
				t.Errorf("%s %.200s [%.200s] cookie=%v: %d %.300s", tc.method, tc.path, tc.body, h != nil, code, out)
			}
		}
	}
}

// sendNoRedirect sends one request and answers its status and body, not following redirects
// (an authorization error is a redirect to the client).
func sendNoRedirect(t *testing.T, base, method, path, ct, body string, h map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %.200s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(out)
}

// TestCSVRowsOfThousandsOfFieldsAre400: an import or a code upload whose row is nothing but
// commas (a few MiB, within the body limits) is refused with 400 in the route's error shape,
// before encoding/csv splits it into millions of fields; nothing is imported.
func TestCSVRowsOfThousandsOfFieldsAre400(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	dev := map[string]string{"Cookie": "ls_session=" + e.cookie(e.dev).Value, "Origin": e.url}
	app := "/api/developer/applications/" + e.app.ID
	code, _, out := e.call("POST", app+"/licenses/variants", map[string]any{"name": "Pro", "duration": "MONTH"}, dev, nil)
	if code != 201 {
		t.Fatalf("variant: %d %s", code, out)
	}
	variant := decode[map[string]any](t, out)["id"].(string)
	for _, tc := range []struct{ path, body string }{
		{app + "/import-existing-users/csv?sourceName=wide", "user_id,email\nu1,a@example.com\n" + strings.Repeat(",", 6<<20) + "\n"},
		{app + "/licenses/codes/upload?variantId=" + variant, "code\nABCD1234\n" + strings.Repeat(",", 2<<20-64) + "\n"},
	} {
		code, _, out := e.send("POST", tc.path, "text/csv", strings.NewReader(tc.body), int64(len(tc.body)), false, dev)
		if code != 400 || !strings.Contains(out, `"error":"invalid_request"`) || !strings.Contains(out, "more than 1024 fields") {
			t.Errorf("POST %s = %d %.200s, want 400 invalid_request naming the field limit", tc.path, code, out)
		}
	}
	if code, _, out := e.call("GET", app+"/import-sources", nil, dev, nil); code != 200 || !strings.Contains(out, `"sources":[]`) {
		t.Errorf("import sources after the refusal = %d %.200s, want none", code, out)
	}
	if code, _, out := e.call("GET", app+"/licenses/codes", nil, dev, nil); code != 200 || !strings.Contains(out, `"total":0`) {
		t.Errorf("codes after the refusal = %d %.200s, want none", code, out)
	}
}

// TestAJSONCodeUploadIsRefusedAtItsLimitNotAfterDecodingIt: 2 MiB of empty codes (700,000)
// are refused at the 10,001st with the domain's 400, without the rest being decoded (the
// old decode allocated some 70 MiB per request, in the server's process).
func TestAJSONCodeUploadIsRefusedAtItsLimitNotAfterDecodingIt(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	dev := map[string]string{"Cookie": "ls_session=" + e.cookie(e.dev).Value, "Origin": e.url}
	app := "/api/developer/applications/" + e.app.ID
	code, _, out := e.call("POST", app+"/licenses/variants", map[string]any{"name": "Pro", "duration": "MONTH"}, dev, nil)
	if code != 201 {
		t.Fatalf("variant: %d %s", code, out)
	}
	variant := decode[map[string]any](t, out)["id"].(string)
	n := (2<<20 - 100) / 3
	body := `{"variantId":"` + variant + `","codes":[` + strings.Repeat(`"",`, n-1) + `""]}`
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, _, out = e.send("POST", app+"/licenses/codes/upload", "application/json", strings.NewReader(body), int64(len(body)), false, dev)
	runtime.ReadMemStats(&after)
	if code != 400 || !strings.Contains(out, "at most 10000 codes per upload") {
		t.Fatalf("= %d %.200s, want 400 at most 10000 codes per upload", code, out)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 40<<20 {
		t.Errorf("%d MiB allocated by a 2 MiB upload refused at its 10,001st code", got>>20)
	}
}
