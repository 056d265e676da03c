package server

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestTheEmbedsLetTheAppPageDragNothingPersonalOut: the embeds of a signed-in person show
// their name or address ("Continue as …") inside a frame the app's page positions and may make
// transparent. The page cannot read the frame, but it can have the person drag out of it (a
// "drag the slider" game over a transparent frame): a dragged link carries its text and a
// selection its words to the page's drop target. The embeds' links are not draggable, and the
// embeds' text (the address field aside) cannot be selected.
func TestTheEmbedsLetTheAppPageDragNothingPersonalOut(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		e.connect(b, e.app, defaultTestEmail)

		p := b.get(e.base + "/embed/login?client_id=" + e.app.ID + "&redirect_uri=" + rpCallback)
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, defaultTestEmail) {
			t.Fatalf("embed login of a signed-in person: %d, want 200 naming them:\n%s", p.StatusCode, p.Body)
		}
		for _, a := range regexp.MustCompile(`(?s)<a [^>]*>.*?</a>`).FindAllString(p.Body, -1) {
			if strings.Contains(a, defaultTestEmail) && !strings.Contains(a, `draggable="false"`) {
				t.Errorf("the embed's link naming the person can be dragged out to the app's page: %s", a)
			}
		}

		css := regexp.MustCompile(`href="(/static/app\.css[^"]*)"`).FindStringSubmatch(p.Body)
		if css == nil {
			t.Fatalf("the embed loads no app.css:\n%s", p.Body)
		}
		resp, err := b.Get(e.base + strings.ReplaceAll(css[1], "&amp;", "&"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`body\.embed\s*\{[^}]*(^|[^-])user-select:\s*none`).Match(body) {
			t.Errorf("app.css lets the text of the embeds (the person's name or address) be selected and dragged out to the app's page")
		}
	})
}
