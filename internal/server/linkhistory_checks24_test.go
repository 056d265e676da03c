package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestMailedLinkPagesTakeTheirTokenOutOfTheHistory24: the pages of the account links (verify an
// added address, confirm or cancel an address change) and the team invitation page kept their
// token, which works for a day (verification), 7 days (invitation) or until the change is
// settled, in the address bar and the tab's history: on a shared computer the next person found
// it there. Each page now loads forget-link.js, which replaces the entry without the token, and
// carries the token itself (the forms' hidden field; the invitation's data-token for its
// button), so it works as before. Referrer-Policy: no-referrer keeps it from other sites.
func TestMailedLinkPagesTakeTheirTokenOutOfTheHistory24(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	pat, l := proposeEverything(t, e)
	for name, link := range map[string]string{"verify": l.verify, "confirm change": l.confirmChange, "cancel change": l.cancelChange} {
		p := pat.get(link)
		if p.StatusCode != http.StatusOK || p.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: %d, Referrer-Policy %q", name, p.StatusCode, p.Header.Get("Referrer-Policy"))
		}
		if !strings.Contains(p.Body, `<script src="/static/forget-link.js"></script>`) {
			t.Errorf("%s: the page leaves its token in the history (no forget-link.js):\n%s", name, p.Body)
		}
		if !strings.Contains(p.Body, `name="token" value="`+mustToken(t, link)+`"`) {
			t.Errorf("%s: the form does not carry the token:\n%s", name, p.Body)
		}
	}
	p := pat.get(l.invitation)
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `src="/static/forget-link.`) {
		t.Errorf("the invitation page = %d, leaves its token in the history (no forget-link.js):\n%s", p.StatusCode, p.Body)
	}
	if !strings.Contains(p.Body, `data-token="`+mustToken(t, l.invitation)+`"`) {
		t.Errorf("the invitation page does not carry its token for the Accept button:\n%s", p.Body)
	}
	nothingConfirmed(t, e, l, "after opening the links")
}
