package server

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/ent/useremail"
)

// getIn is b.get with Accept-Language: lang.
func (b *browser) getIn(link, lang string) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Accept-Language", lang)
	res, err := b.Do(req)
	if err != nil {
		b.e.t.Fatalf("GET %s: %v", link, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{res, string(body)}
}

// TestAVerificationLinkOpenedInAnotherAccountSaysSoAndOffersNoButton24: an address-verification
// link opened in a browser signed in to another account than the one that added the address
// showed "Confirm your address" and its button, as if the address were about to join the
// account on screen; only the POST said no. The page now says what the confirmation would (403,
// as the POST answers): that the link is
// another account's, how to switch (sign out, sign in to that account, open the
// link again) with a sign-out link, in the page's language, and no form. Nothing changes: the
// address stays unverified and the link still works for the account that added it.
func TestAVerificationLinkOpenedInAnotherAccountSaysSoAndOffersNoButton24(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	pat := e.browser()
	pat.signInTo("pat@example.com")
	pat.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
		map[string]any{"e": "pat@second.example", "c": pat.changeCode()})
	link := e.mailLink("pat@second.example", "/dashboard/emails/verify")

	other := e.browser()
	other.signInTo("other@example.com")
	for lang, switchText := range map[string]string{
		"en": "sign in to the LoginSign account it is for",
		"fr": "connectez-vous au compte LoginSign auquel il est destiné",
		"de": "melden Sie sich bei dem LoginSign-Konto an, für das er bestimmt ist",
	} {
		p := other.getIn(link, lang)
		if p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, `id="confirm-message"`) {
			t.Errorf("%s: the link's page in another account = %d:\n%s", lang, p.StatusCode, p.Body)
		}
		if strings.Contains(p.Body, `id="confirm-submit"`) || strings.Contains(p.Body, `name="token"`) {
			t.Errorf("%s: the page offers to confirm in the wrong account:\n%s", lang, p.Body)
		}
		if !strings.Contains(html.UnescapeString(p.Body), switchText) || !strings.Contains(p.Body, `id="confirm-sign-out" href="/logout"`) {
			t.Errorf("%s: the page does not say how to switch accounts:\n%s", lang, p.Body)
		}
	}
	if q := other.post(e.base+"/dashboard/emails/verify", url.Values{"token": {mustToken(t, link)}}); q.StatusCode != http.StatusForbidden {
		t.Errorf("POST in another account = %d, want 403", q.StatusCode)
	}
	ctx := context.Background()
	if n := e.srv.db.UserEmail.Query().Where(useremail.Email("pat@second.example"), useremail.VerifiedAtNotNil()).CountX(ctx); n != 0 {
		t.Fatalf("the address was verified from another account")
	}
	// The account that added it still confirms it with the same link.
	get, post := pat.confirmForm(link)
	if get.StatusCode != http.StatusOK || post.StatusCode != http.StatusOK {
		t.Fatalf("pat's own confirmation: GET %d, POST %d %s", get.StatusCode, post.StatusCode, post.Body)
	}
	if n := e.srv.db.UserEmail.Query().Where(useremail.Email("pat@second.example"), useremail.VerifiedAtNotNil()).CountX(ctx); n != 1 {
		t.Errorf("pat's confirmation verified nothing")
	}
	// A used link says so at once, with no button.
	if p := pat.get(link); p.StatusCode != http.StatusBadRequest || strings.Contains(p.Body, `id="confirm-submit"`) {
		t.Errorf("the used link's page = %d:\n%s", p.StatusCode, p.Body)
	}
}
