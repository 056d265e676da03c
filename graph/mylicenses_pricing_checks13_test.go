package graph_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/internal/store/storetest"
)

// TestMyLicensesArePricedAsTheLicensesAPersonMayHold (review helper anarev, checks13):
// myLicenses answers every code the person holds in the application, up to
// licenses.MaxPerConnection (100), and each code reaches its application and through it the
// team's fields: analytics (1,000 points each) and users pages. The list was priced as one
// code, so a developer holding 100 codes in their own application ran each analytics GROUP BY
// 100 times for the price of one (three aliases: 1,500 aggregates for 15,000 points, where
// the limit allows 20). It is now priced as its bound, as licenseVariants is; the dashboard's
// plain list of the person's licenses still runs.
func TestMyLicensesArePricedAsTheLicensesAPersonMayHold(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t))
	alice, _ := f.identity.CreateUser(context.Background(), "alice@example.com", "")
	var got map[string]any
	heavy := `{ myLicenses(applicationId: "app_missing") { application { analytics {
		signupsPerDay(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { count }
		usersPerRegion { count } sessionsDistribution { count } licensesByState { count } } } } }`
	err := f.as(alice.ID).Post(heavy, &got)
	if err == nil || !strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("myLicenses with four analytics aggregates per code: %v, want COMPLEXITY_LIMIT_EXCEEDED", err)
	}
	plain := `{ myLicenses(applicationId: "app_missing") { id code state expiresAt variant { name } application { name } } }`
	if err := f.as(alice.ID).Post(plain, &got); err != nil && strings.Contains(err.Error(), "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("the plain list of the person's licenses: %v", err)
	}
}
