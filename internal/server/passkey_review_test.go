package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/portal"
)

const (
	beginPasskeyMutation = `mutation { beginPasskeyRegistration(input: {}) { options } }`
	// finishPasskeyMutation is the mutation as it was before it took a code.
	finishPasskeyMutation         = `mutation($c: String!) { finishPasskeyRegistration(input: {name: "Key", credential: $c}) { passkey { id } } }`
	finishPasskeyWithCodeMutation = `mutation($c: String!, $code: String) { finishPasskeyRegistration(input: {name: "Key", credential: $c, code: $code}) { passkey { id } } }`
)

// passkeyCount is how many passkeys the person of b has.
func (b *browser) passkeyCount() int {
	b.e.t.Helper()
	return len(b.gql(`{ viewer { passkeys { id } } }`, nil)["viewer"].(map[string]any)["passkeys"].([]any))
}

// A passkey signs in as both steps, so with two-step verification on, adding one takes the
// second step too: a session of the last 15 minutes (a cookie taken from the person's browser
// right after they signed in) no longer adds its thief's passkey, which would then sign in with
// neither the person's mailbox nor their authenticator app. Without a code or with a wrong one
// the answer is invalid_request and nothing is stored; a current TOTP code or a recovery code
// (spent) adds the passkey, which signs in.
func TestAddingAPasskeyWithTwoStepOnTakesACode(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		person := e.browser()
		person.signInTo("pat@example.com")
		secret, recovery := enrolTOTP(t, person)
		// An app set up after the session's sign-in confirms nothing until a sign-in through it
		// (mfa.ConfirmChange): the person signs in again, with a recovery code (the app's
		// current time step is spent by the enrolment and wanted below).
		person, _ = e.secondStep(t, e.base+"/login", "pat@example.com")
		if p := person.code(recovery[len(recovery)-1]); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("signing in again with a recovery code: %d %s", p.StatusCode, p.Request.URL)
		}
		register := func(dev *passkeytest.Authenticator) string {
			opts := person.gql(beginPasskeyMutation, nil)["beginPasskeyRegistration"].(map[string]any)["options"].(string)
			return dev.Register(t, opts, e.base, 0)
		}

		thief := passkeytest.New(t, false)
		if code := person.gqlCode(finishPasskeyMutation, map[string]any{"c": register(thief)}); code != "second_step_required" {
			t.Fatalf("finishPasskeyRegistration without a code, two-step verification on: %q, want second_step_required", code)
		}
		for _, tt := range []struct {
			code any
			want string
		}{{nil, "second_step_required"}, {"", "second_step_required"}, {"000000", "invalid_request"}, {recovery[0] + "x", "invalid_request"}} {
			if got := person.gqlCode(finishPasskeyWithCodeMutation, map[string]any{"c": register(thief), "code": tt.code}); got != tt.want {
				t.Errorf("finishPasskeyRegistration with code %v: %q, want %s", tt.code, got, tt.want)
			}
		}
		if n := person.passkeyCount(); n != 0 {
			t.Fatalf("%d passkeys were stored without the second step", n)
		}
		stranger := e.browser()
		stranger.get(e.base + "/login")
		o := stranger.get(e.base + "/login/passkey")
		if p := stranger.post(e.base+"/login/passkey", url.Values{"credential": {thief.Login(t, o.Body, e.base, 1)}}); p.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the refused passkey signing in: %d %s, want 401", p.StatusCode, p.Request.URL)
		}

		phone := passkeytest.New(t, false)
		if code := person.gqlCode(finishPasskeyWithCodeMutation, map[string]any{"c": register(phone),
			"code": totpCode(t, secret, time.Now().Add(30*time.Second))}); code != "" {
			t.Fatalf("finishPasskeyRegistration with a current TOTP code: %q", code)
		}
		if code := person.gqlCode(finishPasskeyWithCodeMutation, map[string]any{"c": register(passkeytest.New(t, true)), "code": recovery[1]}); code != "" {
			t.Fatalf("finishPasskeyRegistration with a recovery code: %q", code)
		}
		if code := person.gqlCode(finishPasskeyWithCodeMutation, map[string]any{"c": register(passkeytest.New(t, false)), "code": recovery[1]}); code != "invalid_request" {
			t.Errorf("finishPasskeyRegistration with a spent recovery code: %q, want invalid_request", code)
		}
		if n := person.passkeyCount(); n != 2 {
			t.Fatalf("%d passkeys, want the two added with a code", n)
		}
		b := e.browser()
		b.get(e.base + "/login")
		o = b.get(e.base + "/login/passkey")
		if p := b.post(e.base+"/login/passkey", url.Values{"credential": {phone.Login(t, o.Body, e.base, 1)}}); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("the passkey added with a code signing in: %d %s", p.StatusCode, p.Request.URL)
		}
	})
}

// A session whose sign-in is older than 15 minutes (a cookie taken from the person's browser)
// can neither turn two-step verification off nor replace the recovery codes, and its tries are
// refused before any code is checked: they spend none of the person's ten tries per 15
// minutes, so their right code at /login/verify still signs them in. A recent session's wrong
// codes count apart from the sign-in's too.
func TestAnOldSessionCannotUseUpTheSignInsCodeTries(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		stolen := e.browser()
		stolen.signInTo("pat@example.com")
		secret, recovery := enrolTOTP(t, stolen)
		e.ageSessions(e.userByEmail("pat@example.com").ID, auth.RecentSignIn+time.Minute)
		var answers []string
		for range 10 {
			answers = append(answers,
				stolen.gqlCode(`mutation { disableTwoStep(input: {code: "000000"}) { disabled } }`, nil),
				stolen.gqlCode(`mutation { regenerateRecoveryCodes(input: {code: "000000"}) { recoveryCodes } }`, nil))
		}
		if slices.ContainsFunc(answers, func(c string) bool { return c != "reauthentication_required" }) {
			t.Errorf("disableTwoStep and regenerateRecoveryCodes from a session signed in 16 minutes ago answered %v, want reauthentication_required", answers)
		}

		conf := e.config(e.app, rpCallback)
		person, _ := e.secondStep(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "pat@example.com")
		p := person.code(totpCode(t, secret, time.Now().Add(30*time.Second)))
		if p.StatusCode != 200 || p.Request.URL.Path != "/oauth/consent" {
			t.Fatalf("the person's right code at /login/verify after the old session's tries: %d %s (Retry-After %q), want the consent page",
				p.StatusCode, p.Request.URL, p.Header.Get("Retry-After"))
		}

		// The person's own recent session: wrong codes from the dashboard wait after ten (the
		// enrolment's three were the first: a wrong code, then the right one and its mailed
		// confirmation), and the sign-in still takes a right code.
		for i := range 7 {
			if code := person.gqlCode(`mutation { disableTwoStep(input: {code: "000000"}) { disabled } }`, nil); code != "invalid_request" {
				t.Fatalf("wrong code %d from the dashboard: %q, want invalid_request", i+1, code)
			}
		}
		if code := person.gqlCode(`mutation($c: String!) { disableTwoStep(input: {code: $c}) { disabled } }`, map[string]any{"c": recovery[0]}); code != "rate_limited" {
			t.Fatalf("a right code after ten from the dashboard: %q, want rate_limited", code)
		}
		b, _ := e.secondStep(t, e.base+"/login", "pat@example.com")
		if p := b.code(recovery[1]); p.StatusCode != 200 || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("a sign-in's right code after the dashboard's ten: %d %s", p.StatusCode, p.Request.URL)
		}
	})
}

// Removing a passkey ends the sessions it signed in, and the applications signed in to from
// them get a back-channel logout: someone who added their passkey to the account (or holds
// the person's lost phone) does not stay signed in for 30 days after the person removes it.
// The person's own sessions (this one, and one signed in by another passkey) stay.
func TestRemovingAPasskeyEndsTheSessionsItSignedIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		ctx := context.Background()
		rcv := newLogoutReceiver(t)
		e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
		person := e.browser()
		person.signInTo(defaultTestEmail)
		u := e.userByEmail(defaultTestEmail)
		thiefKey, phoneKey := e.addSoftKey(t, u.ID), e.addSoftKey(t, u.ID)
		thief, phone := e.browser(), e.browser()
		if body := e.passkeyTokens(t, thief, thiefKey); body["id_token"] == nil {
			t.Fatalf("the thief's passkey sign-in to the app: %v", body)
		}
		phone.get(e.base + "/login")
		o := phone.get(e.base + "/login/passkey")
		if p := phone.post(e.base+"/login/passkey", url.Values{"credential": {phoneKey.assert(t, o.Body)}}); p.Request.URL.Path != "/dashboard" {
			t.Fatalf("the phone's passkey sign-in: %d %s", p.StatusCode, p.Request.URL)
		}

		var id string
		for _, k := range person.gql(`{ viewer { passkeys { id } } }`, nil)["viewer"].(map[string]any)["passkeys"].([]any) {
			kid := k.(map[string]any)["id"].(string)
			if row, err := e.srv.db.Passkey.Get(ctx, kid); err == nil && string(row.CredentialID) == string(thiefKey.id) {
				id = kid
			}
		}
		if code := person.gqlCode(`mutation($id: ID!, $c: String) { deletePasskey(input: {id: $id, code: $c}) { deletedId } }`, map[string]any{"id": id, "c": person.changeCode()}); code != "" {
			t.Fatalf("deletePasskey: %q", code)
		}
		if data, _ := thief.graphql(`{ viewer { id } }`, nil); data == nil || data["viewer"] != nil {
			t.Errorf("the removed passkey's session still signs in: %v", data)
		}
		for name, b := range map[string]*browser{"the person's session": person, "the other passkey's session": phone} {
			if data, errs := b.graphql(`{ viewer { id } }`, nil); errs != nil || data["viewer"] == nil {
				t.Errorf("%s ended: %v %v", name, data, errs)
			}
		}
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.got) != 1 {
			t.Fatalf("%d back-channel logouts, want 1 to the app the removed passkey's session signed in to", len(rcv.got))
		}
		if form, _ := url.ParseQuery(rcv.body[0]); form.Get("logout_token") == "" {
			t.Fatalf("the logout carries no token: %q", rcv.body[0])
		}
	})
}
