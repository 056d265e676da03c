package server

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"

	"loginsign/ent/appinvitation"
)

// TestTheInvitationPageNamesTheApplicationAndTheRoleBeforeAccept24: the team invitation page
// showed "Join an application team" and an Accept button, naming neither the application nor the
// role: a person could join a team they did not expect (an invitation forwarded to them, a
// look-alike mail). The page now names both, escaped, in the person's language (en, fr, de), and
// nothing is accepted by opening it; a revoked invitation's page says it no longer works and
// carries no token for the button.
func TestTheInvitationPageNamesTheApplicationAndTheRoleBeforeAccept24(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	dev := e.browser()
	dev.signInTo("dev@example.com")
	const name = `Tom & Jerry's <Tools>`
	app := dev.createApp(name)
	st, out := dev.api(http.MethodPost, "/api/developer/applications/"+app.ID+"/members/invitations",
		map[string]any{"email": "ivy@example.com", "role": "developer"})
	if st != 201 {
		t.Fatalf("inviting: %d %v", st, out)
	}
	invID, _ := out["id"].(string)
	if inv, ok := out["invitation"].(map[string]any); ok && invID == "" {
		invID, _ = inv["id"].(string)
	}
	link := e.mailLink("ivy@example.com", "/portal/invitation")
	ivy := e.browser()
	ivy.signInTo("ivy@example.com")
	for lang, role := range map[string]string{"en": "developer", "fr": "développeur", "de": "Entwickler"} {
		p := ivy.getIn(link, lang)
		if p.StatusCode != http.StatusOK {
			t.Fatalf("%s: the invitation page = %d", lang, p.StatusCode)
		}
		if !strings.Contains(p.Body, `<strong>`+html.EscapeString(name)+`</strong>`) || !strings.Contains(p.Body, `<strong>`+role+`</strong>`) {
			t.Errorf("%s: the page does not name the application (escaped) and the role %q:\n%s", lang, role, p.Body)
		}
		if strings.Contains(p.Body, "<Tools>") {
			t.Errorf("%s: the application's name is not escaped", lang)
		}
	}
	ctx := context.Background()
	if n := e.srv.db.AppInvitation.Query().Where(appinvitation.AcceptedAtNotNil()).CountX(ctx); n != 0 {
		t.Fatalf("opening the page accepted the invitation")
	}
	if st, body := dev.raw(http.MethodDelete, "/api/developer/applications/"+app.ID+"/members/invitations/"+invID, nil); st >= 300 {
		t.Fatalf("revoking: %d %s", st, body)
	}
	p := ivy.get(link)
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `id="invitation-closed"`) ||
		strings.Contains(p.Body, `data-token=`) || strings.Contains(p.Body, `id="invitation-summary"`) {
		t.Errorf("the revoked invitation's page = %d:\n%s", p.StatusCode, p.Body)
	}
}
