package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/store/storetest"
	"loginsign/internal/web/dashboard"
	"loginsign/internal/web/page"
	"loginsign/internal/web/static"
)

// TestTheDashboardFetchesNoIconADeveloperChose: the dashboard lists the applications the
// person uses; an icon URL is the developer's choice, and a browser that fetched it on every
// visit told the developer's server when and from where the person opened their dashboard
// (address, time, browser), long after they last used the app. The page allows images only
// from LoginSign's own origin and data: URIs, and its script neither asks for nor shows the
// applications' icons. Before, the dashboard's CSP allowed any https: image and dashboard.js
// rendered each connected application's iconUrl as an <img>.
func TestTheDashboardFetchesNoIconADeveloperChose(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	u, err := db.Client.User.Create().SetGlobalID("AB1234").SetEmail("ann@example.com").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := dashboard.New(&identity.Service{DB: db}, page.New(static.Assets()))
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	req = req.WithContext(auth.WithSession(req.Context(), auth.Session{UserID: u.ID, ID: "s"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("dashboard: %d %s", rec.Code, rec.Body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	img := regexp.MustCompile(`img-src ([^;]*)`).FindStringSubmatch(csp)
	if img == nil {
		t.Fatalf("CSP %q has no img-src: images would fall back to default-src", csp)
	}
	for _, src := range strings.Fields(img[1]) {
		if src != "'self'" && src != "data:" {
			t.Errorf("dashboard CSP allows images from %s (%q): an application's icon URL would tell its developer of every visit", src, csp)
		}
	}

	js := static.Assets().Body("dashboard.js")
	if js == nil {
		t.Fatal("no dashboard.js")
	}
	if strings.Contains(string(js), "iconUrl") {
		t.Error("dashboard.js asks for or shows an application's iconUrl")
	}
	if regexp.MustCompile(`LS\.icon\(c\.application\)`).Match(js) {
		t.Error("dashboard.js draws a connected application with its icon URL")
	}
}
