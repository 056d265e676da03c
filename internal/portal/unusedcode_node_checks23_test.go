package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/licensecode"
)

// TestAStaleSignInCannotReadAnUnusedCodeByItsID: GraphQL node(id:) of an unused license code
// (portal.Visible) answers reauthentication_required to a developer whose sign-in is older than
// auth.RecentSignIn, as the list of unused codes does (licenses.ListCodes): its text is what a
// person redeems, and a stolen cookie read each code by id that the list refused it. A code in
// use stays readable, as the list of active codes is; signed in again, the unused one is too.
func TestAStaleSignInCannotReadAnUnusedCodeByItsID(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		variant := e.db.LicenseVariant.Create().SetApplicationID(app.ID).SetName("Pro").SetNameKey("pro").SaveX(ctx)
		unused := e.db.LicenseCode.Create().SetApplicationID(app.ID).SetVariantID(variant.ID).SetCode("AAAA-23").SetCodeKey("AAAA23").SaveX(ctx)
		expired := e.db.LicenseCode.Create().SetApplicationID(app.ID).SetVariantID(variant.ID).SetCode("BBBB-23").SetCodeKey("BBBB23").
			SetState(licensecode.StateEXPIRED).SaveX(ctx)
		stale := staleSession(dev)

		wantReauthentication(t, "reading an unused code by its id", e.svc.Visible(stale, unused))
		if err := e.svc.Visible(stale, expired); err != nil {
			t.Errorf("reading an expired code by its id with a stale sign-in: %v", err)
		}
		if err := e.svc.Visible(dev, unused); err != nil {
			t.Errorf("reading an unused code by its id with a recent sign-in: %v", err)
		}
	})
}
