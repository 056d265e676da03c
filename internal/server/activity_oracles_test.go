package server

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// A person who signs in through an application's authorization flow and then DENIES consent
// shares nothing with it. The application's activity log (Application.activity, REST
// …/activity) listed a SIGN_IN event of that flow with its time and method; the method was
// also finer than what a consenting person's id_token says: amr is ["otp","mfa"] for a TOTP
// code and for a recovery code alike (TestTwoStepVerification), while the log says
// "recovery_code" (the person lost their authenticator) or "totp" (two-step is on).
func TestTheAppsLogShowsNoSignInOfAPersonWhoRefused(t *testing.T) {
	e := sqliteEnv(t)
	const ann = "ann@example.com"
	dash := e.browser()
	dash.signIn(dash.get(e.base+"/login"), ann)
	_, recovery := enrolTOTP(t, dash)

	conf := e.config(e.app, rpCallback, "openid")
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	b, _ := e.secondStep(t, authURL, ann)
	consentPage := b.code(recovery[0])
	q := callback(t, b.consent(consentPage, "deny", ""))
	if q.Get("error") != "access_denied" {
		t.Fatalf("deny answered %v", q)
	}

	dev := e.browser()
	dev.signInTo("dev@example.com")
	data, errs := dev.graphql(`query($id: ID!) { application(id: $id) {
		users { totalCount }
		activity(types: [SIGN_IN]) { events { type connectionId at details { key value } } } } }`,
		map[string]any{"id": e.app.ID})
	if errs != nil {
		t.Fatalf("developer query: %v", errs)
	}
	app := data["application"].(map[string]any)
	if n := app["users"].(map[string]any)["totalCount"]; n != float64(0) {
		t.Fatalf("the person refused, yet the app has %v users", n)
	}
	for _, ev := range app["activity"].(map[string]any)["events"].([]any) {
		ev := ev.(map[string]any)
		t.Errorf("the application's log shows a sign-in of a person who refused consent: at %v, details %v", ev["at"], ev["details"])
	}
}

// An application without the profile scope does not see the person's name. But every save of
// the dashboard's profile form (it always sends name AND region) rewrites the region of every
// connection of the person (profile.UpdateProfile), and ent's UpdateDefault moved updated_at
// on each: AppConnection.updatedAt (readable, orderable UPDATED_AT, filterable updatedAtGT)
// told every application, profile scope or not, the moment the person edited their name,
// although nothing it may read changed. Muting the app's relay mail neither.
func TestANameEditTheAppCannotSeeLeavesUpdatedAt(t *testing.T) {
	e := sqliteEnv(t)
	const ann = "ann@example.com"
	b := e.browser()
	e.connect(b, e.app, ann, "openid", "email") // no profile

	dev := e.browser()
	dev.signInTo("dev@example.com")
	const usersQ = `query($id: ID!, $since: Time!) { application(id: $id) {
		users(first: 10) { edges { node { id name region email updatedAt lastSessionAt } } }
		since: users(where: {updatedAtGT: $since}) { totalCount } } }`
	read := func(since time.Time) (map[string]any, float64) {
		t.Helper()
		data, errs := dev.graphql(usersQ, map[string]any{"id": e.app.ID, "since": since.UTC().Format(time.RFC3339Nano)})
		if errs != nil {
			t.Fatalf("users: %v", errs)
		}
		app := data["application"].(map[string]any)
		edges := app["users"].(map[string]any)["edges"].([]any)
		if len(edges) != 1 {
			t.Fatalf("users = %v", edges)
		}
		return edges[0].(map[string]any)["node"].(map[string]any), app["since"].(map[string]any)["totalCount"].(float64)
	}
	before, _ := read(time.Now())
	time.Sleep(50 * time.Millisecond)
	edit := time.Now()

	// The dashboard's own mutation (dashboard.js): name and region together, region unchanged.
	if _, errs := b.graphql(`mutation($name: String, $region: String) { updateProfile(input: {name: $name, region: $region}) { profile { name } } }`,
		map[string]any{"name": "Ann Private-Name", "region": ""}); errs != nil {
		t.Fatalf("updateProfile: %v", errs)
	}

	after, n := read(edit)
	for _, k := range []string{"name", "region", "email", "lastSessionAt"} {
		if before[k] != after[k] {
			t.Fatalf("%s changed: %v -> %v", k, before[k], after[k])
		}
	}
	if after["name"] != nil {
		t.Fatalf("name shown without profile: %v", after["name"])
	}
	if before["updatedAt"] != after["updatedAt"] || n != 0 {
		t.Errorf("a name edit the app may not see moved updatedAt %v -> %v; users(where:{updatedAtGT: <edit time>}) counts %v",
			before["updatedAt"], after["updatedAt"], n)
	}
	conn := e.connectionOf(context.Background(), e.userByEmail(ann).ID)
	if _, errs := b.graphql(`mutation($id: ID!) { setAppEmailMuted(input: {connectionId: $id, muted: true}) { connection { id } } }`,
		map[string]any{"id": conn}); errs != nil {
		t.Fatalf("mute: %v", errs)
	}
	if again, _ := read(edit); again["updatedAt"] != before["updatedAt"] {
		t.Errorf("muting the app's relay mail moved updatedAt %v -> %v", before["updatedAt"], again["updatedAt"])
	}
}
