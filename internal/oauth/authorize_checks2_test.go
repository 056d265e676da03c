package oauth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
)

// startFlow validates q and starts its flow in browser, returning the flow as the browser
// continues it.
func (e *flowEnv) startFlow(t *testing.T, q url.Values, browser string) *oauth.Flow {
	t.Helper()
	ctx := e.ctx()
	id, err := e.svc.StartFlow(ctx, e.authorize(t, q), browser)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.svc.BrowserFlow(ctx, id, browser)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// redirectError is the error parameter of a redirect to the client, "" for none.
func redirectError(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("redirect %q: %v", loc, err)
	}
	return u.Query().Get("error")
}

// redirectTo is where n sends the browser back to the client in query mode, "" when it does
// not.
func redirectTo(n oauth.Next) string {
	if n.Answer == nil {
		return ""
	}
	return n.Answer.URL()
}

// TestAFlowWhoseRedirectTheDeveloperRemovedSendsNothingThere: a flow started for a
// registered redirect URI that the developer unregisters before the person goes on neither
// continues to a code (remembered consent) nor takes the consent page's answer (allow or
// deny): both are the shown invalid_request of the authorization endpoint, never a redirect
// to the removed URI.
func TestAFlowWhoseRedirectTheDeveloperRemovedSendsNothingThere(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb, kept = "https://rp.example/cb", "https://rp.example/kept"
		ctx := e.ctx()
		app, _ := e.client(t, cb, kept)
		u := e.person(t)
		e.code(t, u, authzQuery(app.ID, cb, "")) // consent remembered: Continue would answer a code
		remembered := e.startFlow(t, authzQuery(app.ID, cb, ""), "browser-r")
		answered := e.startFlow(t, authzQuery(app.ID, cb, "", "prompt", "consent"), "browser-a")
		if err := e.db.Application.UpdateOneID(app.ID).SetRedirectUris([]string{kept}).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		refused := func(step string, n oauth.Next, err error) {
			t.Helper()
			if err == nil || redirectTo(n) != "" || n.Consent != nil {
				t.Errorf("%s after the redirect URI was removed: %+v, %v; want a shown invalid_request and no redirect", step, n, err)
				return
			}
			if oe := oauth.AsError(err); oe.Code != oauth.InvalidRequest || oe.Redirect || !strings.Contains(oe.Description, "not registered") {
				t.Errorf("%s: %v (redirect %v), want a shown invalid_request naming the unregistered redirect", step, err, oe.Redirect)
			}
		}
		n, err := e.svc.Continue(ctx, remembered, u.ID, e.clock.Now())
		refused("continuing with remembered consent", n, err)
		for _, allow := range []bool{true, false} {
			n, err := e.svc.Decide(ctx, answered, u.ID, e.clock.Now(), allow, oauth.ShareAlias, "")
			refused("answering the consent page (allow "+map[bool]string{true: "yes", false: "no"}[allow]+")", n, err)
		}
	})
}

// TestPromptNoneWithoutConsentAnswersConsentRequiredWhateverTheSession: prompt=none to an
// application the person has not consented to answers consent_required even when the
// request's max_age asks for a newer sign-in than theirs: the application learns nothing of
// how old their sign-in is before they consent.
func TestPromptNoneWithoutConsentAnswersConsentRequiredWhateverTheSession(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, _ := e.client(t, cb)
		u := e.person(t)
		f := e.startFlow(t, authzQuery(app.ID, cb, "", "prompt", "none", "max_age", "60"), "browser-1")
		n, err := e.svc.Continue(e.ctx(), f, u.ID, e.clock.Now().Add(-time.Hour))
		if err != nil || redirectTo(n) == "" {
			t.Fatalf("prompt=none, max_age passed, no consent: %+v, %v; want a redirect", n, err)
		}
		if got := redirectError(t, redirectTo(n)); got != oauth.ConsentRequired {
			t.Fatalf("prompt=none, max_age passed, no consent: error %q, want %s", got, oauth.ConsentRequired)
		}
	})
}

// TestASignInWithinTheFlowCountsOnlyForThePersonWhoSignedIn: prompt=login is satisfied by a
// sign-in within the flow only when the person continuing it is the one who signed in: a
// flow another person signed in to (the browser changed hands) asks the one now signed in
// to sign in again, through Continue and through the consent page's answer.
func TestASignInWithinTheFlowCountsOnlyForThePersonWhoSignedIn(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		u, other := e.person(t), e.person(t)
		e.code(t, u, authzQuery(app.ID, cb, "")) // consent remembered
		now := e.clock.Now()
		flow := func(signedIn string) *oauth.Flow {
			t.Helper()
			f := e.startFlow(t, authzQuery(app.ID, cb, "", "prompt", "login"), "browser-1")
			f.LoginUserID, f.LoginAt = signedIn, now.Unix()
			return f
		}
		if n, err := e.svc.Continue(ctx, flow(u.ID), u.ID, now.Add(-time.Hour)); err != nil || n.Login || redirectTo(n) == "" {
			t.Fatalf("prompt=login, the person signed in within the flow: %+v, %v; want a code", n, err)
		}
		if n, err := e.svc.Continue(ctx, flow(other.ID), u.ID, now.Add(-time.Hour)); err != nil || !n.Login || redirectTo(n) != "" {
			t.Errorf("prompt=login, another person signed in within the flow: Continue answered %+v, %v; want the sign-in", n, err)
		}
		if n, err := e.svc.Decide(ctx, flow(other.ID), u.ID, now.Add(-time.Hour), true, oauth.ShareAlias, ""); err != nil || !n.Login || redirectTo(n) != "" {
			t.Errorf("prompt=login, another person signed in within the flow: Decide answered %+v, %v; want the sign-in", n, err)
		}
	})
}

// TestAConsentCountsOnlyForItsPersonItsAppAndItsScopes: the consent page may be skipped only
// for a consent of this person to this application covering every scope asked: a consent to
// another application, one of another person to this application, or one to fewer scopes
// asks again.
func TestAConsentCountsOnlyForItsPersonItsAppAndItsScopes(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		otherApp, _ := e.client(t, cb)
		u, other := e.person(t), e.person(t)
		e.code(t, u, authzQuery(app.ID, cb, "", "scope", "openid profile"))
		for _, c := range []struct {
			name, app, person, scope string
			need                     bool
		}{
			{"the consented app and scopes", app.ID, u.ID, "openid profile", false},
			{"fewer scopes", app.ID, u.ID, "openid", false},
			{"a scope more", app.ID, u.ID, "openid profile email", true},
			{"another application", otherApp.ID, u.ID, "openid", true},
			{"another person", app.ID, other.ID, "openid", true},
		} {
			need, err := e.svc.ConsentNeeded(ctx, e.authorize(t, authzQuery(c.app, cb, "", "scope", c.scope)), c.person)
			if err != nil || need != c.need {
				t.Errorf("%s: consent needed %v, %v; want %v", c.name, need, err, c.need)
			}
		}
	})
}

// TestARequestForTwoFactorsAsksAPersonWithASecondFactorToSignInAgain: acr_values naming two
// factors asks a person who has a second factor, signed in with one, to sign in again
// before a code is issued, even with their consent remembered.
func TestARequestForTwoFactorsAsksAPersonWithASecondFactorToSignInAgain(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		e.svc.MFA = mfa.New(e.db, e.kv, testSealer(t), e.clock.Now)
		app, _ := e.client(t, cb)
		u := e.person(t)
		e.code(t, u, authzQuery(app.ID, cb, "")) // consent remembered
		if err := e.db.TOTPFactor.Create().SetUserID(u.ID).SetSecretSealed([]byte("sealed")).SetLastCounter(0).
			Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		f := e.startFlow(t, authzQuery(app.ID, cb, "", "acr_values", mfa.ACRMFA), "browser-1")
		n, err := e.svc.Continue(e.ctx(), f, u.ID, e.clock.Now())
		if err != nil || !n.Login || redirectTo(n) != "" {
			t.Fatalf("acr_values=%s for a person with a second factor signed in with one: %+v, %v; want the sign-in",
				mfa.ACRMFA, n, err)
		}
	})
}
