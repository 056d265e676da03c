package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/oauth"
)

// noticePrefixes start the subject of a security notice, in each language.
var noticePrefixes = func() []string {
	var out []string
	for _, lang := range []string{"en", "fr", "de"} {
		out = append(out, i18n.Choose(lang, "", "").T("mail.notice.subject", ""))
	}
	return out
}()

// isSecurityNotice reports whether subject is a security notice's, in any language: they are
// sent in the background, and tests reading the mail in order skip them.
func isSecurityNotice(subject string) bool {
	for _, p := range noticePrefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// noticesTo are the mails to to whose subject is subject.
func (e *oauthEnv) mailsWithSubject(to, subject string) []mailtest.Envelope {
	var out []mailtest.Envelope
	for _, m := range e.smtp.Messages() {
		if m.Subject == subject && len(m.To) == 1 && strings.EqualFold(strings.Trim(m.To[0], "<>"), to) {
			out = append(out, m)
		}
	}
	return out
}

// waitNotice waits for the first mail to to whose subject is subject (notices are sent in the
// background, after the change committed) and returns it.
func (e *oauthEnv) waitNotice(to, subject string) mailtest.Envelope {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got := e.mailsWithSubject(to, subject); len(got) > 0 {
			return got[0]
		}
	}
	e.t.Fatalf("no mail %q to %s; mails: %v", subject, to, e.subjects())
	return mailtest.Envelope{}
}

func (e *oauthEnv) subjects() []string {
	var out []string
	for _, m := range e.smtp.Messages() {
		out = append(out, strings.Join(m.To, ",")+": "+m.Subject)
	}
	return out
}

// addressNotice is what the notices of one language say.
type addressNotice struct {
	lang, added, removed, unlinked string
}

var addressNotices = map[string]addressNotice{
	"en": {"en", "LoginSign security notice: A sign-in address was added",
		"LoginSign security notice: A sign-in address was removed",
		"LoginSign security notice: This address no longer signs in to your account"},
	"fr": {"fr", "Avis de sécurité LoginSign : Une adresse de connexion a été ajoutée",
		"Avis de sécurité LoginSign : Une adresse de connexion a été supprimée",
		"Avis de sécurité LoginSign : Cette adresse ne permet plus de vous connecter à votre compte"},
	"de": {"de", "LoginSign-Sicherheitshinweis: Eine Anmeldeadresse wurde hinzugefügt",
		"LoginSign-Sicherheitshinweis: Eine Anmeldeadresse wurde entfernt",
		"LoginSign-Sicherheitshinweis: Mit dieser Adresse melden Sie sich nicht mehr bei Ihrem Konto an"},
}

// checkNotice checks a notice of want's language: its language, the dashboard link in both
// parts, and named (masked) or not named the addresses.
func (e *oauthEnv) checkNotice(m mailtest.Envelope, lang string, named, notNamed []string) {
	e.t.Helper()
	if !strings.Contains(string(m.Header()), "Content-Language: "+lang) || !strings.Contains(m.HTML, `<html lang="`+lang+`"`) {
		e.t.Errorf("notice %q is not in %s:\n%s", m.Subject, lang, m.Header())
	}
	if !strings.Contains(m.Text, e.base+"/dashboard") || !strings.Contains(m.HTML, e.base+"/dashboard") {
		e.t.Errorf("notice %q does not link the dashboard:\n%s", m.Subject, m.Text)
	}
	for _, s := range named {
		if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
			e.t.Errorf("notice %q does not name %q:\n%s", m.Subject, s, m.Text)
		}
	}
	for _, s := range notNamed {
		if strings.Contains(strings.ToLower(m.Text), s) || strings.Contains(strings.ToLower(m.HTML), s) {
			e.t.Errorf("notice %q names %q:\n%s", m.Subject, s, m.Text)
		}
	}
}

// TestAlternativeAddressNotices: a verified alternative address signs in to the account, as a
// passkey does, so its verification and its removal are security notices. Verifying one
// mails the primary address, naming the new address masked (oauth.MaskEmail), never in full;
// removing it mails the primary address (naming it masked) and the removed address itself
// (naming no other address of the account), as a change of the primary address tells the old
// one. Each in the person's language: their setting (French), else the request's (German),
// else English. Over real SMTP, on every backend.
func TestAlternativeAddressNotices(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		for _, c := range []struct {
			lang, who, alt string
			setup          func(b *browser)
		}{
			{"en", "nia@example.com", "nia.work@example.com", func(*browser) {}},
			{"fr", "noe@example.com", "noe.travail@example.com", func(b *browser) {
				if _, errs := b.graphql(`mutation { setLanguage(input: {language: "fr"}) { language } }`, nil); errs != nil {
					t.Fatal(errs)
				}
			}},
			{"de", "nils@example.com", "nils.arbeit@example.com", func(b *browser) { b.Transport = langTransport{"de"} }},
		} {
			want := addressNotices[c.lang]
			b := e.browser()
			b.signInTo(c.who)
			c.setup(b)
			masked := oauth.MaskEmail(c.alt)
			if masked == c.alt || !strings.Contains(masked, "•••") {
				t.Fatalf("mask of %s: %q", c.alt, masked)
			}

			id := b.addVerifiedEmail(c.alt)
			added := e.waitNotice(c.who, want.added)
			e.checkNotice(added, c.lang, []string{masked}, []string{c.alt})

			b.removeEmail(id)
			removed := e.waitNotice(c.who, want.removed)
			e.checkNotice(removed, c.lang, []string{masked}, []string{c.alt})
			unlinked := e.waitNotice(c.alt, want.unlinked)
			e.checkNotice(unlinked, c.lang, nil, []string{c.who, oauth.MaskEmail(c.who)})

			if n := len(e.mailsWithSubject(c.alt, want.added)) + len(e.mailsWithSubject(c.alt, want.removed)); n != 0 {
				t.Errorf("%s: the alternative address got %d notices meant for the primary", c.lang, n)
			}
		}
	})
}

// TestRefusedAddressChangesSendNoNotice: a verification refused (signed out, another account's
// session, an address another account holds) and a removal refused (no code, a guessed code)
// change nothing and mail no notice; removing a pending address, which never signed in, tells
// no one either. The changes that then go through each send one notice: the notices counted
// after them are the ones of the changes, not of the refusals before.
func TestRefusedAddressChangesSendNoNotice(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		en := addressNotices["en"]
		const ann, alt, bobWho, pending = "ann@example.com", "ann.alt@example.com", "bob@example.com", "zed.maybe@example.com"
		annB, bob := e.browser(), e.browser()
		annB.signInTo(ann)
		bob.signInTo(bobWho)

		// Verification refused: signed out, then in Bob's session.
		added := annB.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
			map[string]any{"e": alt, "c": annB.changeCode()})
		altID := added["addEmail"].(map[string]any)["userEmail"].(map[string]any)["id"].(string)
		link := e.mailLink(alt, "/dashboard/emails/verify")
		token := strings.TrimPrefix(link, e.base+"/dashboard/emails/verify?token=")
		if p := e.browser().post(e.base+"/dashboard/emails/verify", url.Values{"token": {token}}); p.StatusCode != 401 {
			t.Fatalf("signed-out verification: %d %s", p.StatusCode, p.Body)
		}
		// (Its page offers Bob no form since pages24: his browser posts the token.)
		if p := bob.post(e.base+"/dashboard/emails/verify", url.Values{"token": {token}}); p.StatusCode != 403 {
			t.Fatalf("verification in another account's session: %d %s", p.StatusCode, p.Body)
		}
		// The verification that goes through: one notice, to Ann, none to Bob.
		if _, p := annB.confirmForm(link); p.StatusCode != 200 {
			t.Fatalf("verification: %d %s", p.StatusCode, p.Body)
		}
		e.waitNotice(ann, en.added)

		// Bob verifies Ann's address: refused (email_taken). Then his own address goes through.
		bob.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
			map[string]any{"e": alt, "c": bob.changeCode()})
		if _, p := bob.confirmForm(e.mailLink(alt, "/dashboard/emails/verify")); p.StatusCode != 409 {
			t.Fatalf("verifying another account's address: %d %s", p.StatusCode, p.Body)
		}
		bob.addVerifiedEmail("bob.own@example.com")
		bobNotice := e.waitNotice(bobWho, en.added)
		if !strings.Contains(bobNotice.Text, oauth.MaskEmail("bob.own@example.com")) {
			t.Errorf("Bob's notice does not name his own address:\n%s", bobNotice.Text)
		}

		// Removal refused: no code, a guessed code.
		const remove = `mutation($id: ID!, $c: String) { removeEmail(input: {emailId: $id, code: $c}) { deletedEmailId } }`
		if got := annB.gqlCode(`mutation($id: ID!) { removeEmail(input: {emailId: $id}) { deletedEmailId } }`, map[string]any{"id": altID}); got != "confirmation_code_required" {
			t.Fatalf("removal without a code: %q", got)
		}
		if got := annB.gqlCode(remove, map[string]any{"id": altID, "c": "1234 5678"}); got != "invalid_request" {
			t.Fatalf("removal with a guessed code: %q", got)
		}
		// A pending address removed: it never signed in, nobody is told.
		p := annB.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
			map[string]any{"e": pending, "c": annB.changeCode()})
		e.mailLink(pending, "/dashboard/emails/verify")
		annB.removeEmail(p["addEmail"].(map[string]any)["userEmail"].(map[string]any)["id"].(string))
		// The removal that goes through.
		annB.removeEmail(altID)
		e.waitNotice(alt, en.unlinked)
		e.waitNotice(ann, en.removed)

		for _, c := range []struct {
			to, subject string
			want        int
		}{
			{ann, en.added, 1}, {bobWho, en.added, 1}, {ann, en.removed, 1}, {alt, en.unlinked, 1},
			{pending, en.unlinked, 0}, {bobWho, en.removed, 0},
		} {
			if got := len(e.mailsWithSubject(c.to, c.subject)); got != c.want {
				t.Errorf("%d notices %q to %s, want %d", got, c.subject, c.to, c.want)
			}
		}
		for _, m := range e.mailsWithSubject(ann, en.removed) {
			if strings.Contains(m.Text, oauth.MaskEmail(pending)) {
				t.Errorf("the removal of the pending address was told:\n%s", m.Text)
			}
		}
		for _, m := range e.smtp.Messages() {
			if isSecurityNotice(m.Subject) && len(m.To) == 1 && strings.EqualFold(strings.Trim(m.To[0], "<>"), pending) {
				t.Errorf("a notice went to the pending address: %q", m.Subject)
			}
		}
	})
}
