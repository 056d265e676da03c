package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/appconnection"
	"loginsign/ent/licensecode"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/profile"
	"loginsign/internal/store/storetest"

	"loginsign/internal/server/servertest"
	"loginsign/internal/team"
)

// dashboardQueries are the GraphQL queries dashboard.js runs, read from the file itself.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	js, err := os.ReadFile(servertest.Path("internal", "web", "static", "files", "dashboard.js"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+): "(query [^"]+)"`).FindAllStringSubmatch(string(js), -1) {
		out[m[1]] = m[2]
	}
	if len(out) < 4 {
		t.Fatalf("found only %d dashboard queries", len(out))
	}
	return out
}

// leaves collects every scalar of v (and, with keys, every object key), normalised (times as Unix
// milliseconds, text in lower case: GraphQL writes enum values in capitals and details as
// key/value pairs, the export as lower-case strings and objects), with the path it was found at.
func leaves(v any, path string, out map[string]string, keys bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if keys {
				out[strings.ToLower(k)] = path + "." + k + " (key)"
			}
			leaves(c, path+"."+k, out, keys)
		}
	case []any:
		for i, c := range x {
			leaves(c, fmt.Sprintf("%s[%d]", path, i), out, keys)
		}
	case nil:
	default:
		s := fmt.Sprint(x)
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
			s = fmt.Sprint(tm.UnixMilli())
		}
		out[strings.ToLower(s)] = path
	}
}

// The person's export holds every value the dashboard shows them and nothing of anyone
// else; it is recorded, announced by mail and rate limited. On SQLite and PostgreSQL.
func TestDataExport(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { testDataExport(t, dbURL) })
	}
}

func testDataExport(t *testing.T, dbURL string) {
	e := newOAuthEnv(t, dbURL)
	ctx := context.Background()
	ann, bob := e.browser(), e.browser()
	e.authorizeCode(ann, "ann@example.com")
	e.authorizeCode(bob, "bob@example.com")
	annUser, _ := e.srv.identity.UserByEmail(ctx, "ann@example.com")
	bobUser, _ := e.srv.identity.UserByEmail(ctx, "bob@example.com")
	dev, _ := e.srv.identity.UserByEmail(ctx, "dev@example.com")
	// An alternative address, a license, a pending link of another app, an event.
	if _, err := e.srv.account.AddAlternativeEmail(as(annUser.ID), "ann.alt@example.com", e.changeCodeAs(as(annUser.ID))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.account.VerifyAlternativeEmail(as(annUser.ID), e.mailToken("ann.alt@example.com", "ver_")); err != nil {
		t.Fatal(err)
	}
	v, err := e.srv.licenses.CreateVariant(as(dev.ID), e.app.ID, licenses.VariantInput{Name: "Pro"})
	if err != nil {
		t.Fatal(err)
	}
	annConn, err := e.srv.db.AppConnection.Query().Where(appconnection.UserID(annUser.ID)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.srv.db.LicenseCode.Create().SetApplicationID(e.app.ID).SetVariantID(v.ID).SetCode("ANN-CODE-1").SetCodeKey("ANNCODE1").
		SetState(licensecode.StateACTIVE).SetLinkedConnectionID(annConn.ID).SetActivatedAt(now).SetCreatedAt(now).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	app2 := e.createApp("Proposing App", rpCallback)
	if _, err := e.srv.portal.Import(as(dev.ID), app2.ID, portal.ImportRequest{Kind: "json",
		Users: []portal.ImportUser{{ExternalUserID: "crm-7", Email: "ann.alt@example.com"}}}); err != nil {
		t.Fatal(err)
	}

	// A profile: name, region and picture are data about Ann too.
	region, annName := "DE", "Ann Example-Export"
	if _, err := e.srv.profiles.UpdateProfile(as(annUser.ID), profile.Update{Name: &annName, Region: &region}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.profiles.SetPicture(as(annUser.ID), testPNG(t, 64, 64)); err != nil {
		t.Fatal(err)
	}

	// Teams: Ann is a support member of app2 (Bob a developer there), the owner proposed to
	// hand app2 over to her, and a third app invited her alternative address.
	tm := e.srv.portal.Team()
	inv, err := tm.Invite(as(dev.ID), app2.ID, "ann@example.com", team.Support)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tm.Accept(as(annUser.ID), "", inv.ID); err != nil {
		t.Fatal(err)
	}
	inv, err = tm.Invite(as(dev.ID), app2.ID, "bob@example.com", team.Developer)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tm.Accept(as(bobUser.ID), "", inv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.ProposeTransfer(as(dev.ID), app2.ID, annUser.ID); err != nil {
		t.Fatal(err)
	}
	app3 := e.createApp("Inviting App", rpCallback)
	if _, err := tm.Invite(as(dev.ID), app3.ID, "ann.alt@example.com", team.Admin); err != nil {
		t.Fatal(err)
	}
	bobInv, err := tm.Invite(as(dev.ID), app3.ID, "bob@example.com", team.Admin) // Bob's, not Ann's
	if err != nil {
		t.Fatal(err)
	}

	// What the dashboard shows Ann, and what the Developer Portal shows her of her own place on
	// teams (her invitations, her entry on app2's team, the transfer proposed to her).
	shown := map[string]string{}
	for name, q := range dashboardQueries(t) {
		var vars map[string]any
		if strings.Contains(q, "$email: String!") { // the apps shown her primary address
			vars = map[string]any{"email": annUser.Email}
		}
		data := ann.gql(q, vars)
		leaves(data, name, shown, false)
	}
	leaves(ann.gql(`query { viewer { teamInvitations { id applicationId applicationName email role createdAt expiresAt } } }`, nil),
		"portal.myInvitations", shown, false)
	teamData := ann.gql(`query($id: ID!) { application(id: $id) { id name viewerRole members { userId email role joinedAt isViewer } ownershipTransfer { toEmail expiresAt } } }`,
		map[string]any{"id": app2.ID})
	appData := teamData["application"].(map[string]any)
	for _, m := range appData["members"].([]any) {
		if m.(map[string]any)["isViewer"] == true {
			leaves(m, "portal.team.members[viewer]", shown, false)
		}
	}
	leaves(map[string]any{"id": appData["id"], "name": appData["name"], "viewerRole": appData["viewerRole"], "ownershipTransfer": appData["ownershipTransfer"]},
		"portal.team", shown, false)
	if len(shown) == 0 || appData["ownershipTransfer"] == nil {
		t.Fatalf("the portal shows Ann nothing of app2's team: %v", appData)
	}

	resp, err := ann.Get(e.base + "/api/account/export")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export = %d %v %s", resp.StatusCode, resp.Header, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	exported := map[string]string{}
	leaves(doc, "export", exported, true)
	for value, path := range shown {
		if value == "true" || value == "false" || strings.HasSuffix(path, ".lastSeen") {
			continue // a boolean is everywhere; the export's own request is the session's latest use
		}
		if strings.Contains(path, ".regionChoices[") || strings.HasSuffix(path, ".suggestedRegion") {
			continue // the form's choices and a suggestion from Accept-Language, not data about the person
		}
		if _, ok := exported[value]; !ok {
			t.Errorf("the dashboard shows %s = %q; the export does not hold it", path, value)
		}
	}
	for _, section := range []string{"account", "addresses", "connections", "pendingLinks", "sessions", "twoStep", "passkeys",
		"teams", "teamInvitations", "ownershipTransfers", "activity"} {
		if _, ok := doc[section]; !ok {
			t.Errorf("the export has no %s", section)
		}
	}
	c0 := doc["connections"].([]any)[0].(map[string]any)
	if sees := c0["sees"].(map[string]any); sees["globalId"] != annUser.GlobalID || sees["email"] == nil {
		t.Errorf("what the app sees = %v", sees)
	}
	// Her teams: owner of nothing, support on app2; one invitation (to her alternative address,
	// not Bob's); the transfer of app2.
	if teams := doc["teams"].([]any); len(teams) != 1 || teams[0].(map[string]any)["role"] != "support" ||
		teams[0].(map[string]any)["applicationName"] != "Proposing App" || teams[0].(map[string]any)["since"] == nil {
		t.Errorf("teams = %v", teams)
	}
	if invs := doc["teamInvitations"].([]any); len(invs) != 1 || invs[0].(map[string]any)["email"] != "ann.alt@example.com" ||
		invs[0].(map[string]any)["applicationName"] != "Inviting App" || invs[0].(map[string]any)["role"] != "admin" {
		t.Errorf("teamInvitations = %v", invs)
	}
	if trs := doc["ownershipTransfers"].([]any); len(trs) != 1 || trs[0].(map[string]any)["applicationId"] != app2.ID {
		t.Errorf("ownershipTransfers = %v", trs)
	}
	bobConn, _ := e.srv.db.AppConnection.Query().Where(appconnection.UserID(bobUser.ID)).Only(ctx)
	for _, other := range []string{bobUser.Email, bobUser.GlobalID, bobUser.ID, bobConn.ID, bobConn.AliasEmail, "dev@example.com", dev.ID, bobInv.ID} {
		if strings.Contains(string(body), other) {
			t.Errorf("Ann's export holds %q of someone else", other)
		}
	}
	// Recorded, announced.
	if n, _ := e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.DataExported)), activityevent.UserID(annUser.ID)).Count(ctx); n != 1 {
		t.Errorf("%d data_exported events, want 1", n)
	}
	announced := false
	for range 20 { // the invitation mails come first, and the applications' security notices of the joins and the transfer
		m := e.smtp.Next(t, 10*time.Second)
		if strings.Contains(m.Text, "copy of everything LoginSign holds") {
			if len(m.To) != 1 || m.To[0] != "ann@example.com" {
				t.Errorf("announcement mail to %v", m.To)
			}
			announced = true
			break
		}
	}
	if !announced {
		t.Error("no announcement mail")
	}
	// Three a day.
	for i, want := range []int{200, 200, 429} {
		resp, err := ann.Get(e.base + "/api/account/export")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("export %d = %d, want %d", i+2, resp.StatusCode, want)
		}
	}
	if resp, _ := e.browser().Get(e.base + "/api/account/export"); resp.StatusCode != 401 {
		t.Errorf("anonymous export = %d, want 401", resp.StatusCode)
	}
}

// The developer's users CSV has the users list's rows and columns, every page, with formula
// cells neutralised; another developer gets 404.
func TestUsersCSVExport(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("dev@example.com", "Dev", true)
		appID := dev.createApp("Exporting", false)
		mallory := e.person("mallory@example.com", "Mallory", true)
		for i := range 3 {
			p := e.person(fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("=HYPERLINK(\"x\",\"%d\")", i), false)
			e.connect(p, appID, func(c *ent.AppConnectionCreate) { c.SetRegion("-2+3").SetLoginCount(i) })
		}
		list := dev.json("GET", "/api/developer/applications/"+appID+"/users", nil, 200)
		status, body := dev.do("GET", "/api/developer/applications/"+appID+"/users/export", nil)
		if status != 200 {
			t.Fatalf("export = %d %s", status, body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != "id,globalId,name,email,active,blocked,emailMuted,sessions,lastSession,joined,region,appEmail" {
			t.Fatalf("header = %v", rows[0])
		}
		users := list["users"].([]any)
		if len(rows)-1 != len(users) {
			t.Fatalf("%d rows, want %d", len(rows)-1, len(users))
		}
		for i, u := range users {
			u := u.(map[string]any)
			r := rows[i+1]
			if r[0] != u["id"] || r[1] != u["globalId"] || r[3] != u["email"] || r[9] != u["joined"] || r[7] != fmt.Sprint(u["sessions"]) {
				t.Errorf("row %d = %v, list has %v", i, r, u)
			}
			if r[2] != "'"+u["name"].(string) || r[10] != "'-2+3" {
				t.Errorf("row %d: formula cells not neutralised: %v", i, r)
			}
		}
		if status, _ := dev.do("GET", "/api/developer/applications/"+appID+"/users/export?limit=1", nil); status != 400 {
			t.Errorf("export with limit = %d, want 400", status)
		}
		if status, body := dev.do("GET", "/api/developer/applications/"+appID+"/users/export?active=false", nil); status != 200 || strings.Count(string(body), "\n") != 1 {
			t.Errorf("filtered export = %d %q, want the header only", status, body)
		}
		if status, _ := mallory.do("GET", "/api/developer/applications/"+appID+"/users/export", nil); status != 404 {
			t.Errorf("another developer's export = %d, want 404", status)
		}
		if n, _ := e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.UsersExported)), activityevent.ApplicationID(appID)).Count(context.Background()); n != 2 {
			t.Errorf("%d users_exported events, want 2", n)
		}
		// Ten exports per developer and hour (two above), counted before any row is read; the
		// eleventh answers 429 with Retry-After, and another developer's id still answers 404.
		for i := 3; i <= 10; i++ {
			if status, body := dev.do("GET", "/api/developer/applications/"+appID+"/users/export", nil); status != 200 {
				t.Fatalf("export %d = %d %s", i, status, body)
			}
		}
		if status, body := dev.do("GET", "/api/developer/applications/"+appID+"/users/export", nil); status != http.StatusTooManyRequests ||
			!strings.Contains(string(body), `"error":"rate_limited"`) {
			t.Errorf("export 11 = %d %s, want 429 rate_limited", status, body)
		}
		if status, _ := mallory.do("GET", "/api/developer/applications/"+appID+"/users/export", nil); status != 404 {
			t.Errorf("another developer's export after the limit = %d, want 404", status)
		}
		if n, _ := e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.UsersExported)), activityevent.ApplicationID(appID)).Count(context.Background()); n != 10 {
			t.Errorf("%d users_exported events, want 10 (the refused one is not an export)", n)
		}
		// The count is the asking developer's: a team admin past the owner's ten still
		// exports, and spends only their own.
		admin := e.person("admin@example.com", "Admin", true)
		e.join(dev, appID, admin, "admin")
		if status, body := admin.do("GET", "/api/developer/applications/"+appID+"/users/export", nil); status != 200 {
			t.Errorf("a team admin's export after the owner's ten = %d %s, want 200", status, body)
		}
	})
}

// TestUsersCSVExportNeedsARecentSignIn: the users export hands over every connected person's
// shown address and Global User ID, so a session cookie taken from a developer's browser (a
// sign-in hours old) must not be enough to carry the list away. With a sign-in 16 minutes old
// the owner's export answers 401 reauthentication_required however often it is asked, spends
// none of the owner's exports of the hour and records no export; the team's answers still
// come first (403 for support, whom signing in again would not help, and off the team the
// missing application's 404). Signed in again, the owner exports the list as before, as many
// times as the limit allows.
func TestUsersCSVExportNeedsARecentSignIn(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		appID := owner.createApp("Exporting", false)
		for i := range 3 {
			e.connect(e.person(fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("Person %d", i), false), appID)
		}
		support := e.person("support@example.com", "Sam Support", true)
		e.join(owner, appID, support, "support")
		stranger := e.person("stranger@example.com", "Mallory", true)
		export := "/api/developer/applications/" + appID + "/users/export"
		exported := func() int {
			t.Helper()
			n, err := e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.UsersExported)), activityevent.ApplicationID(appID)).Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		owner.signedInAgo(auth.RecentSignIn + time.Minute)
		const want = `{"error":"reauthentication_required","message":"for your safety, sign in again to do this: your last sign-in was more than 15 minutes ago"}`
		// One more than the hourly limit: were refusals counted, the last would be 429.
		for i := range portal.DefaultExports.N + 1 {
			if status, body := owner.do("GET", export, nil); status != http.StatusUnauthorized || strings.TrimSpace(string(body)) != want {
				t.Fatalf("export %d with a sign-in 16 minutes old = %d %s, want 401 %s", i+1, status, body, want)
			}
		}
		if n := exported(); n != 0 {
			t.Errorf("%d users_exported events after refused exports, want none", n)
		}
		support.signedInAgo(auth.RecentSignIn + time.Minute)
		if status, body := support.do("GET", export, nil); status != http.StatusForbidden || !strings.Contains(string(body), `"error":"forbidden"`) {
			t.Errorf("support's export with a sign-in 16 minutes old = %d %s, want 403 forbidden", status, body)
		}
		stranger.signedInAgo(auth.RecentSignIn + time.Minute)
		_, missing := stranger.do("GET", "/api/developer/applications/"+missingApp+"/users/export", nil)
		if status, body := stranger.do("GET", export, nil); status != http.StatusNotFound || string(body) != string(missing) {
			t.Errorf("an export off the team with a sign-in 16 minutes old = %d %s, want the missing application's 404 %s", status, body, missing)
		}

		// Signed in again: the list, and the whole hourly allowance the refusals left untouched.
		owner.signInAgain()
		for i := range portal.DefaultExports.N {
			status, body := owner.do("GET", export, nil)
			if status != http.StatusOK {
				t.Fatalf("export %d signed in again = %d %s, want 200", i+1, status, body)
			}
			if rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll(); err != nil || len(rows) != 4 {
				t.Fatalf("export %d signed in again: %d rows (%v), want the header and 3 users", i+1, len(rows), err)
			}
		}
		if status, body := owner.do("GET", export, nil); status != http.StatusTooManyRequests || !strings.Contains(string(body), `"error":"rate_limited"`) {
			t.Errorf("export %d signed in again = %d %s, want 429 rate_limited", portal.DefaultExports.N+1, status, body)
		}
		if n := exported(); n != portal.DefaultExports.N {
			t.Errorf("%d users_exported events, want %d", n, portal.DefaultExports.N)
		}
	})
}
