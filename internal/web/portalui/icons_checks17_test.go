package portalui_test

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
	"loginsign/internal/web/page"
	"loginsign/internal/web/portalui"
	"loginsign/internal/web/static"
)

// TestThePortalFetchesNoIconADeveloperChose17: the portal lists the applications a developer
// is on the team of; an application's icon URL is chosen by its owner or an admin, and a
// browser that fetched it on every view told them when and from where each teammate (or an
// invitee opening the invitation page) looked. As on the dashboard since stop 64, the portal
// allows images only from LoginSign's own origin and data: URIs, and portal.js draws an
// application's initial. Before, its CSP allowed any https: image and the app list drew
// each application's iconUrl as an <img>.
func TestThePortalFetchesNoIconADeveloperChose17(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	u, err := db.Client.User.Create().SetGlobalID("AB1234").SetEmail("ann@example.com").Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := portalui.New(&identity.Service{DB: db}, nil, page.New(static.Assets()))
	for _, path := range []string{"/portal/apps", "/portal/invitation"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req = req.WithContext(auth.WithSession(req.Context(), auth.Session{UserID: u.ID, ID: "s"}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		img := regexp.MustCompile(`img-src ([^;]*)`).FindStringSubmatch(csp)
		if img == nil || strings.TrimSpace(img[1]) != "'self' data:" {
			t.Errorf("%s CSP %q: want img-src 'self' data:", path, csp)
		}
	}
	js := static.Assets().Body("portal.js")
	if js == nil {
		t.Fatal("no portal.js")
	}
	if regexp.MustCompile(`LS\.icon\(a\)`).Match(js) {
		t.Error("portal.js draws an application with its icon URL")
	}
}
