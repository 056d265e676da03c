package widgets_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/internal/identity"
	"loginsign/internal/web/page"
	"loginsign/internal/web/static"
	"loginsign/internal/web/widgets"
)

type oneApp struct{ app *ent.Application }

func (c oneApp) Client(_ context.Context, id string) (*ent.Application, error) {
	if id == c.app.ID {
		return c.app, nil
	}
	return nil, nil
}

// bannerProgram runs embed-banner.js in a stub of the banner page: argv[2] is the
// data-origins the page carries ("-" for no #banner-parent element), argv[3] the
// location.ancestorOrigins the browser gives ("" none, JSON list), argv[4] "top" when the page
// is not framed. It prints the messages posted, as [type, targetOrigin].
const bannerProgram = `
const origins = process.argv[2], anc = process.argv[3], top = process.argv[4] === "top";
const sent = [];
globalThis.window = globalThis;
const post = { postMessage(m, o) { sent.push([m.type, o]); } };
globalThis.postMessage = post.postMessage;
globalThis.parent = top ? globalThis : post;
globalThis.location = anc ? { ancestorOrigins: JSON.parse(anc) } : {};
globalThis.document = { getElementById(id) {
  if (id === "banner-parent" && origins !== "-") return { getAttribute(k) { return k === "data-origins" ? origins : null; } };
  return null; // no #continue: nobody signed in
} };
require(process.argv[1]);
console.log(JSON.stringify(sent));
`

// TestTheBannerTellsOnlyTheAppsOriginsWhetherTheVisitorIsSignedIn: the banner's messages say
// whether the visitor has a LoginSign session (banner-ready / banner-empty). They go to the
// app's registered origins only (those of its frame-ancestors), to the very parent origin where
// the browser names it (location.ancestorOrigins), never with targetOrigin "*", and nowhere
// when the page is not framed.
func TestTheBannerTellsOnlyTheAppsOriginsWhetherTheVisitorIsSignedIn(t *testing.T) {
	t.Parallel()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	app := &ent.Application{ID: "app_banner", Name: "Shop", AllowedOrigins: []string{"https://shop.example"},
		RedirectUris: []string{"https://login.shop.example/cb"}}
	h := widgets.New(oneApp{app}, &identity.Service{}, page.New(static.Assets()))
	rec := httptest.NewRecorder()
	h.Banner(rec, httptest.NewRequest(http.MethodGet, "/embed/banner?client_id=app_banner", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("banner: %d\n%s", rec.Code, rec.Body)
	}
	origins := "-"
	if m := regexp.MustCompile(`id="banner-parent" data-origins="([^"]*)"`).FindStringSubmatch(rec.Body.String()); m != nil {
		origins = html.UnescapeString(m[1])
	}
	allowed := []string{"https://shop.example", "https://login.shop.example"}
	run := func(anc, top string) [][2]string {
		t.Helper()
		out, err := exec.Command(nodeBin, "-e", bannerProgram, "../static/files/embed-banner.js", origins, anc, top).CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		var sent [][2]string
		if err := json.Unmarshal(out, &sent); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return sent
	}

	sent := run("", "")
	if len(sent) == 0 {
		t.Fatalf("the empty banner told its parent nothing (data-origins %q)", origins)
	}
	for _, m := range sent {
		if !slices.Contains(allowed, m[1]) {
			t.Errorf("the banner posted %s to targetOrigin %q: any page framing it learns whether the visitor is signed in; want only %v", m[0], m[1], allowed)
		}
	}
	if got := run(`["https://shop.example"]`, ""); len(got) != 1 || got[0] != [2]string{"loginsign:banner-empty", "https://shop.example"} {
		t.Errorf("framed by https://shop.example (ancestorOrigins): posted %v, want banner-empty to that origin only", got)
	}
	if got := run(`["https://evil.example"]`, ""); len(got) != 0 {
		t.Errorf("framed by an origin that is not the app's: posted %v, want nothing", got)
	}
	if got := run("", "top"); len(got) != 0 {
		t.Errorf("not framed: posted %v, want nothing", got)
	}
	if strings.Contains(origins, "*") {
		t.Errorf("data-origins %q holds a wildcard", origins)
	}
}
