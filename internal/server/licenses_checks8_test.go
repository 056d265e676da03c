package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/appmember"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/user"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

// devCodes gives application app of owner one variant "Pro" (YEAR) and n generated codes.
func (e *apiEnv) devCodes(owner *ent.User, app *ent.Application, n int) (*ent.LicenseVariant, []string) {
	e.t.Helper()
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
	v, err := e.s.licenses.CreateVariant(ctx, app.ID, licenses.VariantInput{Name: "Pro", Duration: "YEAR"})
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := e.s.licenses.GenerateCodes(ctx, app.ID, licenses.GenerateInput{VariantID: v.ID, Count: n})
	if err != nil {
		e.t.Fatal(err)
	}
	return v, g.Codes
}

// licenseRows counts the license codes and variants stored for app.
func (e *apiEnv) licenseRows(app *ent.Application) (codes, variants int) {
	e.t.Helper()
	ctx := context.Background()
	codes = e.s.db.LicenseCode.Query().Where(licensecode.ApplicationID(app.ID)).CountX(ctx)
	variants = e.s.db.LicenseVariant.Query().Where(licensevariant.ApplicationID(app.ID)).CountX(ctx)
	return codes, variants
}

// errorName is the "error" of a JSON error body, "" when the body is not one.
func errorName(t *testing.T, body string) string {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		return ""
	}
	s, _ := out["error"].(string)
	return s
}

// TestOneCodeRedeemedAtOnceByManyPeopleOverHTTPHasExactlyOneHolder: sixteen people connected
// to the application post the same code at the same moment, each from their own HTTP client
// and session. Exactly one gets 200; every other gets 409 code_already_used; the code is held
// by the winner's connection and one license_redeemed event is written.
func TestOneCodeRedeemedAtOnceByManyPeopleOverHTTPHasExactlyOneHolder(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			_, codes := e.devCodes(e.dev, e.app, 1)
			const n = 16
			conns := make([]*ent.AppConnection, n)
			cookies := make([]*http.Cookie, n)
			for i := range n {
				p := e.person(fmt.Sprintf("buyer%d@example.com", i), "Buyer")
				conns[i] = e.connect(p, e.app, e.now)
				cookies[i] = e.cookie(p)
			}
			type answer struct {
				status int
				body   string
			}
			answers := make([]answer, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client := &http.Client{Transport: &http.Transport{}}
					req, _ := http.NewRequest("POST", e.url+"/api/user/licenses/redeem",
						strings.NewReader(fmt.Sprintf(`{"code":%q,"client_id":%q}`, strings.ToLower(codes[0]), e.app.ID)))
					req.Header.Set("Content-Type", "application/json")
					req.AddCookie(cookies[i])
					<-start
					resp, err := client.Do(req)
					if err != nil {
						answers[i] = answer{0, err.Error()}
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					answers[i] = answer{resp.StatusCode, string(b)}
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, a := range answers {
				switch {
				case a.status == 200 && winner == -1:
					winner = i
				case a.status == 200:
					t.Errorf("a second redemption succeeded: %s (first: %s)", a.body, answers[winner].body)
				case a.status != 409 || errorName(t, a.body) != "code_already_used":
					t.Errorf("a losing redemption answered %d %s, want 409 code_already_used", a.status, a.body)
				}
			}
			if winner == -1 {
				t.Fatalf("no redemption succeeded: %+v", answers)
			}
			c := e.s.db.LicenseCode.Query().Where(licensecode.ApplicationID(e.app.ID)).OnlyX(context.Background())
			if c.State != licensecode.StateACTIVE || c.LinkedConnectionID == nil || *c.LinkedConnectionID != conns[winner].ID {
				t.Errorf("the code is %s held by %v, want ACTIVE held by the winner %s", c.State, c.LinkedConnectionID, conns[winner].ID)
			}
			events := e.s.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.LicenseRedeemed)),
				activityevent.ApplicationID(e.app.ID)).CountX(context.Background())
			if events != 1 {
				t.Errorf("%d license_redeemed events, want 1", events)
			}
		})
	}
}

// TestAnotherDevelopersSessionAndCredentialsReachNoneOfAnApplicationsLicenses: a rival with a
// free developer account, their own application and its client credentials, tries every
// license route of an application that is not theirs. The developer routes answer exactly as
// for an application that does not exist (404 not_found), the status sync answers 403
// forbidden, the rival's own customer cannot redeem the application's code through the rival
// application, and nothing of the application's licenses changes.
func TestAnotherDevelopersSessionAndCredentialsReachNoneOfAnApplicationsLicenses(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			v, codes := e.devCodes(e.dev, e.app, 2)
			ctx := context.Background()
			codeID := e.s.db.LicenseCode.Query().Where(licensecode.ApplicationID(e.app.ID)).FirstIDX(ctx)
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			beforeCodes, beforeVariants := e.licenseRows(e.app)

			rival := e.cookie(e.rival)
			routes := func(appID string) []struct {
				method, path string
				body         any
			} {
				base := "/api/developer/applications/" + appID + "/licenses"
				return []struct {
					method, path string
					body         any
				}{
					{"GET", base + "/variants", nil},
					{"POST", base + "/variants", map[string]any{"name": "Stolen"}},
					{"PATCH", base + "/variants/" + v.ID, map[string]any{"name": "Renamed"}},
					{"DELETE", base + "/variants/" + v.ID + "?force=true", nil},
					{"POST", base + "/codes/generate", map[string]any{"variantId": v.ID, "count": 5}},
					{"POST", base + "/codes/upload", map[string]any{"variantId": v.ID, "codes": []string{"RIVAL-0001"}}},
					{"GET", base + "/codes", nil},
					{"GET", base + "/codes?q=" + ann.GlobalID, nil},
					{"DELETE", base + "/codes/" + codeID, nil},
				}
			}
			unknown := routes("app_doesnotexist")
			for i, r := range routes(e.app.ID) {
				st, _, body := e.call(r.method, r.path, r.body, nil, rival)
				ust, _, ubody := e.call(unknown[i].method, unknown[i].path, unknown[i].body, nil, rival)
				if st != 404 || errorName(t, body) != "not_found" || st != ust || body != ubody {
					t.Errorf("rival %s %s = %d %s; for an unknown application %d %s; want the same 404 not_found", r.method, r.path, st, body, ust, ubody)
				}
				if strings.Contains(body, codes[0]) || strings.Contains(body, ann.GlobalID) {
					t.Errorf("rival %s %s reveals the application's codes or people: %s", r.method, r.path, body)
				}
			}

			// The rival application's credentials on the application's status sync.
			h := map[string]string{"Authorization": basic(e.rivalApp.ID, e.rivalSec)}
			st, _, body := e.call("PATCH", "/api/applications/"+e.app.ID+"/users/"+ann.GlobalID+"/status", map[string]any{"status": "PRO"}, h, nil)
			if st != 403 || errorName(t, body) != "forbidden" {
				t.Errorf("status sync with another application's credentials = %d %s, want 403 forbidden", st, body)
			}
			st, _, body = e.call("PATCH", "/api/applications/"+e.app.ID+"/users/"+ann.GlobalID+"/status", map[string]any{"revoke": true}, h, nil)
			if st != 403 || errorName(t, body) != "forbidden" {
				t.Errorf("status revoke with another application's credentials = %d %s, want 403 forbidden", st, body)
			}

			// The rival's own customer, through the rival application, redeems nothing of the
			// application's codes (404 code_not_found, as for a code that does not exist).
			mal := e.person("mal@example.com", "Mal")
			e.connect(mal, e.rivalApp, e.now)
			malC := e.cookie(mal)
			st, _, body = e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": codes[0], "client_id": e.rivalApp.ID}, nil, malC)
			nst, _, nbody := e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "client_id": e.rivalApp.ID}, nil, malC)
			if st != 404 || errorName(t, body) != "code_not_found" || st != nst || body != nbody {
				t.Errorf("another application's code through one's own = %d %s; an unknown code %d %s; want the same 404 code_not_found", st, body, nst, nbody)
			}

			if c, v := e.licenseRows(e.app); c != beforeCodes || v != beforeVariants {
				t.Errorf("the application has %d codes and %d variants, had %d and %d", c, v, beforeCodes, beforeVariants)
			}
			if n := e.s.db.LicenseCode.Query().Where(licensecode.ApplicationID(e.app.ID), licensecode.StateNEQ(licensecode.StateUNUSED)).CountX(ctx); n != 0 {
				t.Errorf("%d of the application's codes are no longer unused", n)
			}
			if got := e.s.db.LicenseVariant.GetX(ctx, v.ID); got.Name != "Pro" {
				t.Errorf("the variant is named %q, want Pro", got.Name)
			}
		})
	}
}

// TestStatusSyncAnswersAlikeWhetherOrNotTheGlobalIDHasAnAccount: an application's backend that
// syncs a status for a Global User ID it has no connection with learns nothing about whether
// that Global User ID belongs to someone (connected to another application, or to none) or to
// nobody: the answers are the same but for the id they echo, and nothing is created (no
// variant, no code, no connection).
func TestStatusSyncAnswersAlikeWhetherOrNotTheGlobalIDHasAnAccount(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ctx := context.Background()
			elsewhere := e.person("bob@example.com", "Bob")
			e.connect(elsewhere, e.rivalApp, e.now)
			nowhere := e.person("carl@example.com", "Carl")
			unassigned := ""
			for _, g := range []string{"ZZ9999", "ZY9998", "ZX9997", "ZW9996"} {
				if !e.s.db.User.Query().Where(user.GlobalID(g)).ExistX(ctx) {
					unassigned = g
					break
				}
			}
			if unassigned == "" {
				t.Fatal("no unassigned Global User ID found")
			}
			h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
			connsBefore := e.s.db.AppConnection.Query().CountX(ctx)
			for _, req := range []map[string]any{
				{"status": "PREMIUM", "variantName": "Premium", "duration": "YEAR"},
				{"revoke": true},
				{"status": "FREE"},
			} {
				var first string
				for i, gid := range []string{elsewhere.GlobalID, nowhere.GlobalID, unassigned, strings.ToLower(nowhere.GlobalID)} {
					st, _, body := e.call("PATCH", "/api/applications/"+e.app.ID+"/users/"+gid+"/status", req, h, nil)
					if st != 404 || errorName(t, body) != "not_found" {
						t.Errorf("%v for %s = %d %s, want 404 not_found", req, gid, st, body)
					}
					same := strings.ReplaceAll(body, strings.ToUpper(gid), "<gid>")
					if i == 0 {
						first = same
					} else if same != first {
						t.Errorf("%v: the answer for %s differs from the one for a person connected elsewhere:\n%s\n%s", req, gid, same, first)
					}
				}
			}
			if c, v := e.licenseRows(e.app); c != 0 || v != 0 {
				t.Errorf("the refused syncs left %d codes and %d variants", c, v)
			}
			if n := e.s.db.AppConnection.Query().CountX(ctx); n != connsBefore {
				t.Errorf("%d connections, had %d", n, connsBefore)
			}
		})
	}
}

// TestOutOfRangeLicenseInputsAreRefusedInTheDocumentedShapeAndCreateNothing: counts that are
// zero, negative, past the maximum, overflowing or not integers, page limits out of range,
// unknown states and cursors, and oversized bodies all answer 400 (413 for the body) with
// {"error","message"}, never 500, and store no code.
func TestOutOfRangeLicenseInputsAreRefusedInTheDocumentedShapeAndCreateNothing(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			v, _ := e.devCodes(e.dev, e.app, 1)
			dev := e.cookie(e.dev)
			base := "/api/developer/applications/" + e.app.ID + "/licenses"
			gen := func(count string) string {
				return fmt.Sprintf(`{"variantId":%q,"count":%s}`, v.ID, count)
			}
			for _, tt := range []struct {
				method, path, body string
				status             int
			}{
				{"POST", base + "/codes/generate", gen("0"), 400},
				{"POST", base + "/codes/generate", gen("-1"), 400},
				{"POST", base + "/codes/generate", gen("10001"), 400},
				{"POST", base + "/codes/generate", gen("9223372036854775807"), 400},
				{"POST", base + "/codes/generate", gen("99999999999999999999999"), 400},
				{"POST", base + "/codes/generate", gen("-9223372036854775808"), 400},
				{"POST", base + "/codes/generate", gen("1.5"), 400},
				{"POST", base + "/codes/generate", gen("1e3"), 400},
				{"POST", base + "/codes/generate", gen(`"10"`), 400},
				{"POST", base + "/codes/generate", gen("null"), 400},
				{"POST", base + "/codes/generate", fmt.Sprintf(`{"variantId":%q,"count":1,"prefix":"ÄÖÜ"}`, v.ID), 400},
				{"POST", base + "/codes/generate", fmt.Sprintf(`{"variantId":%q,"count":1,"prefix":"A-B"}`, v.ID), 400},
				{"POST", base + "/codes/generate", fmt.Sprintf(`{"variantId":%q,"count":1,"prefix":"%s"}`, v.ID, strings.Repeat("A", 17)), 400},
				{"POST", base + "/codes/generate", `{"variantId":"","count":1}`, 400},
				{"POST", base + "/codes/upload", fmt.Sprintf(`{"variantId":%q,"codes":[]}`, v.ID), 400},
				{"POST", base + "/codes/upload", fmt.Sprintf(`{"variantId":%q,"codes":[%s"x"]}`, v.ID, strings.Repeat(`"x",`, licenses.MaxUpload)), 400},
				{"GET", base + "/codes?limit=0", "", 400},
				{"GET", base + "/codes?limit=-5", "", 400},
				{"GET", base + "/codes?limit=1001", "", 400},
				{"GET", base + "/codes?limit=99999999999999999999999", "", 400},
				{"GET", base + "/codes?state=REVOKED", "", 400},
				{"GET", base + "/codes?cursor=not-a-cursor", "", 400},
				{"GET", base + "/codes?q=" + strings.Repeat("a", 255), "", 400},
				{"DELETE", base + "/variants/" + v.ID + "?force=yes", "", 400},
				{"POST", base + "/variants", `{"name":"Pro2","duration":"DECADE"}`, 400},
				{"POST", base + "/variants", `{"name":"` + strings.Repeat("n", 101) + `"}`, 400},
				{"POST", "/api/user/licenses/redeem", `{"code":"` + strings.Repeat("A", 8<<10) + `","client_id":"` + e.app.ID + `"}`, 413},
			} {
				var body any
				if tt.body != "" {
					body = tt.body
				}
				st, hdr, got := e.call(tt.method, tt.path, body, nil, dev)
				var out map[string]any
				if st != tt.status || json.Unmarshal([]byte(got), &out) != nil || out["error"] == nil || out["message"] == nil ||
					!strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
					t.Errorf("%s %s %.80s = %d %.200s, want %d {error, message}", tt.method, tt.path, tt.body, st, got, tt.status)
				}
			}
			if c, _ := e.licenseRows(e.app); c != 1 {
				t.Errorf("the application has %d codes, want the 1 it had", c)
			}
		})
	}
}

// TestASupportMemberReadsCodesButCannotCreateChangeOrRemoveThem: a member with the lowest
// role (support) lists the codes (ReadLicenses) but every license write answers 403 forbidden
// and changes nothing.
func TestASupportMemberReadsCodesButCannotCreateChangeOrRemoveThem(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			v, _ := e.devCodes(e.dev, e.app, 2)
			ctx := context.Background()
			sup := e.person("support@example.com", "Support")
			e.s.db.AppMember.Create().SetApplicationID(e.app.ID).SetUserID(sup.ID).SetRole(appmember.RoleSupport).SetEmail(sup.Email).ExecX(ctx)
			codeID := e.s.db.LicenseCode.Query().Where(licensecode.ApplicationID(e.app.ID)).FirstIDX(ctx)
			c := e.cookie(sup)
			base := "/api/developer/applications/" + e.app.ID + "/licenses"
			if st, _, body := e.call("GET", base+"/codes", nil, nil, c); st != 200 {
				t.Fatalf("support lists the codes: %d %s", st, body)
			}
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{"POST", base + "/variants", map[string]any{"name": "Free for me"}},
				{"PATCH", base + "/variants/" + v.ID, map[string]any{"duration": "LIFETIME"}},
				{"DELETE", base + "/variants/" + v.ID + "?force=true", nil},
				{"POST", base + "/codes/generate", map[string]any{"variantId": v.ID, "count": 3}},
				{"POST", base + "/codes/upload", map[string]any{"variantId": v.ID, "codes": []string{"MINE-0001"}}},
				{"DELETE", base + "/codes/" + codeID, nil},
			} {
				if st, _, body := e.call(r.method, r.path, r.body, nil, c); st != 403 || errorName(t, body) != "forbidden" {
					t.Errorf("support %s %s = %d %s, want 403 forbidden", r.method, r.path, st, body)
				}
			}
			if c, n := e.licenseRows(e.app); c != 2 || n != 1 {
				t.Errorf("after support's writes: %d codes, %d variants; want 2 and 1", c, n)
			}
			if got := e.s.db.LicenseVariant.GetX(ctx, v.ID); got.Duration != licensevariant.DurationYEAR {
				t.Errorf("support changed the variant's duration to %s", got.Duration)
			}
		})
	}
}

// TestAStatusExpiryPastYear9999IsRefused: an application's backend sends an expiresAt whose
// offset moves it past the year 9999 in UTC ("9999-12-31T23:59:59-23:59"), a time that RFC
// 3339 and JSON cannot write back. The sync answers 400 invalid_request and stores nothing.
func TestAStatusExpiryPastYear9999IsRefused(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
			st, _, body := e.call("PATCH", "/api/applications/"+e.app.ID+"/users/"+ann.GlobalID+"/status",
				map[string]any{"status": "PRO", "expiresAt": "9999-12-31T23:59:59-23:59"}, h, nil)
			if st != 400 || errorName(t, body) != "invalid_request" {
				t.Errorf("sync with an expiry past 9999 = %d %s, want 400 invalid_request", st, body)
			}
			if c, _ := e.licenseRows(e.app); c != 0 {
				t.Errorf("the sync stored %d codes", c)
			}
		})
	}
}

// TestAStatusExpiryPastYear9999BreaksNoneOfThePersonsReads: whatever the sync above answers,
// what an application's backend sends must not break reads: the person's license list (REST
// and GraphQL), their data export (which holds the licenses of all their applications) and
// the developer's code list all answer 200 afterwards.
func TestAStatusExpiryPastYear9999BreaksNoneOfThePersonsReads(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
			e.call("PATCH", "/api/applications/"+e.app.ID+"/users/"+ann.GlobalID+"/status",
				map[string]any{"status": "PRO", "expiresAt": "9999-12-31T23:59:59-23:59"}, h, nil)
			annC := e.cookie(ann)
			if st, _, body := e.call("GET", "/api/user/licenses/subscriptions?client_id="+e.app.ID, nil, nil, annC); st != 200 {
				t.Errorf("the person's license list = %d %s, want 200", st, body)
			}
			if st, _, body := e.call("GET", "/api/developer/applications/"+e.app.ID+"/licenses/codes", nil, nil, e.cookie(e.dev)); st != 200 {
				t.Errorf("the developer's code list = %d %s, want 200", st, body)
			}
			if body := e.gql(annC, fmt.Sprintf(`{ myLicenses(applicationId: %q) { code expiresAt } }`, e.app.ID)); strings.Contains(body, `"errors"`) {
				t.Errorf("myLicenses = %s, want no errors", body)
			}
			if st, _, body := e.call("GET", "/api/account/export", nil, nil, annC); st != 200 || !strings.Contains(body, ann.GlobalID) {
				t.Errorf("the person's data export = %d %.300s, want 200", st, body)
			}
		})
	}
}

// TestACrossSiteRequestCannotRedeemWithThePersonsSession: a developer's web page makes the
// browser of a person signed in to LoginSign post a redemption (a form-like text/plain body
// or JSON, with the browser's Origin and Sec-Fetch-Site headers). The person's session cookie
// goes along, but the request is refused with 403 and the code stays unused: a site cannot
// tie a code, and with it a license event, to the person.
func TestACrossSiteRequestCannotRedeemWithThePersonsSession(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			_, codes := e.devCodes(e.dev, e.app, 1)
			ann := e.person("ann@example.com", "Ann")
			e.connect(ann, e.app, e.now)
			c := e.cookie(ann)
			body := fmt.Sprintf(`{"code":%q,"client_id":%q}`, codes[0], e.app.ID)
			for _, ct := range []string{"text/plain", "application/json"} {
				st, _, got := e.call("POST", "/api/user/licenses/redeem", body, map[string]string{
					"Content-Type": ct, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, c)
				if st != 403 {
					t.Errorf("cross-site redeem (%s) = %d %s, want 403", ct, st, got)
				}
			}
			if n := e.s.db.LicenseCode.Query().Where(licensecode.ApplicationID(e.app.ID), licensecode.StateEQ(licensecode.StateUNUSED)).CountX(context.Background()); n != 1 {
				t.Errorf("the code is no longer unused")
			}
		})
	}
}

// TestAnApplicationsOwnClientTokenHoldsNoLicenses: an application's client_credentials access
// token names no person. On the person's license routes it is refused as a token of no
// connection (401 invalid_token, with the WWW-Authenticate challenge), never a 500, and
// redeems nothing.
func TestAnApplicationsOwnClientTokenHoldsNoLicenses(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
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
		g, err := e.srv.licenses.GenerateCodes(dev, app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		tok := e.clientToken(e.app)
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/api/user/licenses/redeem", fmt.Sprintf(`{"code":%q}`, g.Codes[0])},
			{"GET", "/api/user/licenses/subscriptions", ""},
		} {
			st, body, h := e.appAPI(r.method, r.path, tok, r.body)
			if st != 401 || !strings.Contains(body, `"invalid_token"`) || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with the application's client token = %d %s (%v), want 401 invalid_token", r.method, r.path, st, body, h.Get("WWW-Authenticate"))
			}
		}
		if n := e.srv.db.LicenseCode.Query().Where(licensecode.StateEQ(licensecode.StateUNUSED)).CountX(ctx); n != 1 {
			t.Errorf("the code is no longer unused")
		}
	})
}

// TestAForwardedForHeaderDoesNotSpreadRedemptionsOverAddresses: with no trusted proxy
// configured, an attacker with several free accounts who guesses codes from one address and
// sets a fresh X-Forwarded-For (and Forwarded) on every request is still counted as one
// address: past the per-address limit the answer is 429 rate_limited with Retry-After.
func TestAForwardedForHeaderDoesNotSpreadRedemptionsOverAddresses(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{PerAddress: ratelimit.Rule{Name: "redeem:ip", N: 3, Window: time.Minute}})
			e.devCodes(e.dev, e.app, 1)
			var statuses []int
			for i := range 5 {
				p := e.person(fmt.Sprintf("guesser%d@example.com", i), "Guesser")
				e.connect(p, e.app, e.now)
				ip := fmt.Sprintf("203.0.113.%d", i+1)
				st, h, body := e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": fmt.Sprintf("GUES-S%03d", i), "client_id": e.app.ID},
					map[string]string{"X-Forwarded-For": ip, "Forwarded": "for=" + ip, "X-Real-IP": ip}, e.cookie(p))
				statuses = append(statuses, st)
				if i >= 3 && (st != 429 || errorName(t, body) != "rate_limited" || h.Get("Retry-After") == "") {
					t.Errorf("guess %d from one address with a forged forwarding header = %d %s, want 429 rate_limited", i+1, st, body)
				}
			}
			if statuses[0] != 404 {
				t.Errorf("the first guess = %d, want 404 code_not_found", statuses[0])
			}
		})
	}
}
