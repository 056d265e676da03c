package server

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/ent/webhookevent"
	"loginsign/internal/portal"
)

// addVerifiedEmail adds addr to the account b is signed in to (addEmail with a mailed
// confirmation code, then the mailed link's confirmation in b) and returns its id.
func (b *browser) addVerifiedEmail(addr string) string {
	b.e.t.Helper()
	added := b.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
		map[string]any{"e": addr, "c": b.changeCode()})
	id := added["addEmail"].(map[string]any)["userEmail"].(map[string]any)["id"].(string)
	if _, p := b.confirmForm(b.e.mailLink(addr, "/dashboard/emails/verify")); p.StatusCode != 200 {
		b.e.t.Fatalf("verifying %s: %d %s", addr, p.StatusCode, p.Body)
	}
	return id
}

// removeEmail removes the address id from the account b is signed in to (with a mailed
// confirmation code).
func (b *browser) removeEmail(id string) {
	b.e.t.Helper()
	if code := b.gqlCode(`mutation($id: ID!, $c: String) { removeEmail(input: {emailId: $id, code: $c}) { deletedEmailId } }`,
		map[string]any{"id": id, "c": b.changeCode()}); code != "" {
		b.e.t.Fatalf("removeEmail: %q", code)
	}
}

// signedIn reports whether b's session still opens the account.
func (b *browser) signedIn() bool {
	b.e.t.Helper()
	data, _ := b.graphql(`{ viewer { id } }`, nil)
	return data != nil && data["viewer"] != nil
}

// The repro of the review: a session (or a thief's copy of its cookie) adds and verifies the
// thief's mailbox, and the thief signs in with it from their own browser, to LoginSign and to
// an app. Removing the address ends the thief's session, sends the app a back-channel logout
// and revokes the tokens it got from that session. The person's sessions (the one removing the
// address, and one signed in through the primary address) and their app tokens stay.
func TestRemovingAnAddressEndsTheSessionsItSignedIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		rcv := newLogoutReceiver(t)
		e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
		person, phone := e.browser(), e.browser()
		person.signInTo(defaultTestEmail)
		kept := e.connect(phone, e.app, defaultTestEmail)
		id := person.addVerifiedEmail("mallory@evil.example")

		thief := e.browser()
		stolen := e.connect(thief, e.app, "mallory@evil.example")
		if !thief.signedIn() {
			t.Fatal("the thief's sign-in through the added address failed")
		}
		for name, tok := range map[string]*oauth2.Token{"the thief's": stolen, "the phone's": kept} {
			if access, refresh := e.tokensWork(tok); !access || !refresh {
				t.Fatalf("%s app tokens before the removal: access %v, refresh %v", name, access, refresh)
			}
		}

		person.removeEmail(id)
		if thief.signedIn() {
			t.Error("the session signed in through the removed address still opens the account")
		}
		if access, refresh := e.tokensWork(stolen); access || refresh {
			t.Errorf("the app tokens of the thief's session still work: access %v, refresh %v", access, refresh)
		}
		for name, b := range map[string]*browser{"the session removing the address": person, "the primary address's session": phone} {
			if !b.signedIn() {
				t.Errorf("%s ended", name)
			}
		}
		if access, refresh := e.tokensWork(kept); !access || !refresh {
			t.Errorf("the phone's app tokens ended: access %v, refresh %v", access, refresh)
		}
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.got) != 1 {
			t.Fatalf("%d back-channel logouts, want 1 to the app the thief's session signed in to", len(rcv.got))
		}
		if form, _ := url.ParseQuery(rcv.body[0]); form.Get("logout_token") == "" {
			t.Fatalf("the logout carries no token: %q", rcv.body[0])
		}
	})
}

// The second repro: an address the person shared with an app and then removed is no longer
// shown to it as theirs. The app's connection shows the relay alias (in /api/user and in
// refreshed id_tokens), the app gets email_changed naming the alias, and when someone else
// signs up with the released address and shares it with the same app, the app does not see
// two people with one verified address.
func TestRemovingASharedAddressShowsTheAppTheAlias(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		hooks := newWebhookReceiver(t)
		e.updateApp(e.app, portal.ApplicationPatch{WebhookURL: &hooks.URL})
		const old = "pat.old@example.com"
		pat := e.browser()
		pat.signInTo("pat@example.com")
		id := pat.addVerifiedEmail(old)
		tok := e.connectSharing(pat, "", old)
		if email, verified := e.appFacingEmail(tok); email != old || verified != true {
			t.Fatalf("/api/user before the removal: email %q, email_verified %v; want the shared address, verified", email, verified)
		}

		pat.removeEmail(id)
		conn := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID),
			appconnection.UserID(e.userByEmail("pat@example.com").ID)).OnlyX(ctx)
		if email, _ := e.appFacingEmail(tok); email != conn.AliasEmail {
			t.Errorf("/api/user after the removal: email %q, want the relay alias %q", email, conn.AliasEmail)
		}
		st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if st != 200 {
			t.Fatalf("refresh: %d %v", st, body)
		}
		if claims := idTokenClaims(t, body["id_token"]); claims["email"] != conn.AliasEmail {
			t.Errorf("refreshed id_token: email %v, want the relay alias %q", claims["email"], conn.AliasEmail)
		}
		ev, err := e.srv.db.WebhookEvent.Query().Where(webhookevent.Type("email_changed")).Only(ctx)
		if err != nil {
			t.Fatalf("email_changed: %v", err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(ev.Payload), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"type": "email_changed", "applicationId": e.app.ID, "connectionId": conn.ID,
			"userId": e.userByEmail("pat@example.com").GlobalID, "aliasEmail": conn.AliasEmail, "oldEmail": old,
			"newEmail": conn.AliasEmail, "changedAt": got["changedAt"], "reason": "user_email_change"}
		if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
			t.Errorf("email_changed\n got %s\nwant %s", g, w)
		}

		// Someone else signs up with the released address and shares it with the same app.
		other := e.browser()
		theirs := e.connectSharing(other, old, old)
		if email, _ := e.appFacingEmail(theirs); email != old {
			t.Fatalf("the new holder's /api/user: email %q, want %q", email, old)
		}
		if email, _ := e.appFacingEmail(tok); email == old {
			t.Errorf("the app sees %s as the verified address of two people", old)
		}
	})
}

// connectSharing connects b to the app (signing in with email first when b has no session)
// sharing the verified address share on the consent page, and returns the tokens.
func (e *oauthEnv) connectSharing(b *browser, email, share string) *oauth2.Token {
	e.t.Helper()
	conf := e.config(e.app, rpCallback)
	verifier := oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, email)
	}
	p = b.consent(p, "allow", share)
	tok, err := conf.Exchange(e.ctx(), callback(e.t, p).Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// appFacingEmail is what /api/user tells the app of tok's person: email and email_verified.
func (e *oauthEnv) appFacingEmail(tok *oauth2.Token) (string, any) {
	e.t.Helper()
	st, body, _ := e.apiUser(tok.AccessToken)
	if st != 200 {
		e.t.Fatalf("/api/user: %d %v", st, body)
	}
	email, _ := body["email"].(string)
	return email, body["email_verified"]
}

// idTokenClaims decodes the payload of the id_token raw (unverified: the tests of signing
// check signatures).
func idTokenClaims(t *testing.T, raw any) map[string]any {
	t.Helper()
	s, _ := raw.(string)
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q is not a JWS", s)
	}
	b, err := decodeSegment(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
