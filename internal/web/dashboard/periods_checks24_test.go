package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/store/storetest"
	"loginsign/internal/web/dashboard"
	"loginsign/internal/web/page"
	"loginsign/internal/web/static"
)

// TestTheDashboardSaysHowRecentASignInTheDownloadNeeds: the "Your data" card says how recent a
// sign-in the download needs from auth.RecentSignIn, the time the export enforces, in the
// person's language. Before, the catalogs said "15 minutes" themselves.
func TestTheDashboardSaysHowRecentASignInTheDownloadNeeds(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	h := dashboard.New(&identity.Service{DB: db}, page.New(static.Assets()))
	for i, lang := range []string{"en", "fr", "de"} {
		u, err := db.Client.User.Create().SetGlobalID("AB123" + string(rune('0'+i))).SetEmail(lang + "@example.com").SetLanguage(lang).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req = req.WithContext(auth.WithSession(req.Context(), auth.Session{UserID: u.ID, ID: "s" + lang}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s dashboard: %d %s", lang, rec.Code, rec.Body)
		}
		l := i18n.Choose(lang, "", "")
		lead := l.T("dashboard.data_lead", l.Period(auth.RecentSignIn))
		if !strings.Contains(lead, l.Period(auth.RecentSignIn)) || !strings.Contains(rec.Body.String(), html.EscapeString(lead)) {
			t.Errorf("%s dashboard does not say %q:\n%s", lang, lead, rec.Body)
		}
	}
}
