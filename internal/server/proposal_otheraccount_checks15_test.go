package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"loginsign/ent/appconnection"
)

// TestAProposalsPageInAnotherAccountExplainsAtOnce: the confirm link of a proposal goes to the
// address the application proposed, which may be the developer's own mailbox. Opened in a
// browser signed in to another account (the developer's), the page explains that the change is
// for another account (README: "in another account it explains and changes nothing"); before, it
// offered the confirm form, a code field and a "Mail me a code" button, which could only be
// refused. The person's own browser still gets the form.
func TestAProposalsPageInAnotherAccountExplainsAtOnce(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	ctx := context.Background()
	person := e.browser()
	e.connect(person, e.app, "pat@example.com")
	pat := e.userByEmail("pat@example.com")
	conn, err := e.srv.db.AppConnection.Query().Where(appconnection.UserID(pat.ID)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dev := e.browser()
	dev.signInTo("dev@example.com")
	if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
		map[string]any{"email": "pat@dev-chosen.example"}); status != 200 {
		t.Fatalf("proposing: %d %s", status, body)
	}
	link := e.mailLink("pat@dev-chosen.example", "/account/email-change/confirm")

	other := dev.get(link)
	if other.StatusCode != http.StatusForbidden || !strings.Contains(other.Body, "another LoginSign account") ||
		strings.Contains(other.Body, `name="code"`) || strings.Contains(other.Body, `id="confirm-send-code"`) {
		t.Errorf("the confirm page in another account: %d, want 403 explaining it is for another account, without the form:\n%s",
			other.StatusCode, other.Body)
	}
	if strings.Contains(other.Body, "pat@example.com") {
		t.Error("the confirm page in another account names the person's address")
	}
	own := person.get(link)
	if own.StatusCode != http.StatusOK || !strings.Contains(own.Body, `name="code"`) {
		t.Errorf("the confirm page in the person's own browser: %d, want the form:\n%s", own.StatusCode, own.Body)
	}
}
