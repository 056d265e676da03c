package server

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"loginsign/internal/mail"
)

// codeMailbox is the person's mailbox of confirmation codes: it takes the place of the mfa
// service's sender once a test asks for a code (changeCode, changeCodeAs), records the codes
// mailed and does not pass them on, so tests that read or count the test SMTP server's mail
// in order (mailLink, mailToken, smtp.Count) see the mail they saw before changes asked for a
// code. changecode_checks10_test.go reads the codes from the SMTP server itself.
type codeMailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (m *codeMailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

// mailedCodeRe finds the code of a confirmation code mail: 8 digits written "1234 5678".
var mailedCodeRe = regexp.MustCompile(`(?m)^\s*(\d{4}) (\d{4})\s*$`)

// mailedCode is the code in the text of a confirmation code mail ("" when there is none).
func mailedCode(text string) string {
	m := mailedCodeRe.FindStringSubmatch(strings.ReplaceAll(text, "\r\n", "\n"))
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// last is the code of the last mail to to.
func (m *codeMailbox) last(t testing.TB, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if !strings.EqualFold(m.msgs[i].To, to) {
			continue
		}
		code := mailedCode(m.msgs[i].Text)
		if code == "" {
			t.Fatalf("no code in the mail to %s: %q", to, m.msgs[i].Text)
		}
		return code
	}
	t.Fatalf("no confirmation code mailed to %s", to)
	return ""
}

// codeMailbox installs (once) on s and returns the mailbox of the confirmation codes.
func (s *Server) codeMailbox() *codeMailbox {
	if m, ok := s.mfa.Mail.(*codeMailbox); ok {
		return m
	}
	m := &codeMailbox{}
	s.mfa.Mail = m
	return m
}

// mailedChangeCode runs send, which asks s for a confirmation code (sendConfirmationCode, or
// mfa.SendChangeCode) and returns the address it was mailed to, and returns the code of that
// mail: one code, for one change.
func mailedChangeCode(t testing.TB, s *Server, send func() (sentTo string)) string {
	t.Helper()
	box := s.codeMailbox()
	return box.last(t, send())
}

// sendCodeMutation asks for a confirmation code mailed to the primary address.
const sendCodeMutation = `mutation { sendConfirmationCode(input: {}) { sentTo expiresAt } }`

// changeCode asks for a confirmation code (sendConfirmationCode) in the account b is signed
// in to, as the dashboard does before a change that could take the account, and returns the
// code mailed to its primary address.
func (b *browser) changeCode() string {
	b.e.t.Helper()
	return mailedChangeCode(b.e.t, b.e.srv, func() string {
		return b.gql(sendCodeMutation, nil)["sendConfirmationCode"].(map[string]any)["sentTo"].(string)
	})
}

// changeCodeAs is changeCode for a direct call of a service with the session of ctx.
func (e *oauthEnv) changeCodeAs(ctx context.Context) string {
	e.t.Helper()
	return mailedChangeCode(e.t, e.srv, func() string {
		sent, _, err := e.srv.mfa.SendChangeCode(ctx, "")
		if err != nil {
			e.t.Fatalf("sending a confirmation code: %v", err)
		}
		return sent
	})
}

// confirmChange follows the link to the confirm page of a requested address change and posts
// its form with a confirmation code mailed to b's account; it returns the page of the GET and
// of the POST (empty when the page had no form).
func (b *browser) confirmChange(link string) (get, post page) {
	get = b.get(link)
	m := formTokenRe.FindStringSubmatch(get.Body)
	if m == nil {
		return get, page{}
	}
	return get, b.post(b.e.base+m[1], url.Values{"token": {m[2]}, "code": {b.changeCode()}})
}

// changeCode is browser.changeCode for a person of a portalEnv.
func (p *person) changeCode() string {
	p.e.t.Helper()
	return mailedChangeCode(p.e.t, p.e.srv, func() string {
		return p.mustGQL(sendCodeMutation, nil)["sendConfirmationCode"].(map[string]any)["sentTo"].(string)
	})
}

// changeCode is browser.changeCode for the session cookie of a testServer.
func (s *testServer) changeCode(t *testing.T, cookie string) string {
	t.Helper()
	return mailedChangeCode(t, s.Server, func() string {
		out := s.graphql(t, cookie, sendCodeMutation, nil)
		if out["errors"] != nil {
			t.Fatalf("sendConfirmationCode: %v", out["errors"])
		}
		return out["data"].(map[string]any)["sendConfirmationCode"].(map[string]any)["sentTo"].(string)
	})
}
