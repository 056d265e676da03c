package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/application"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// TestAStaleSignInCreatesNoApplication: creating an application hands out its client secret
// and claims its redirect hosts in the developer's name, so, as rotating a secret or adding a
// redirect URI, it needs a sign-in of the last auth.RecentSignIn. From a session cookie an
// hour old (a thief's copy) nothing is created and no creation is counted; the same developer
// signed in again creates it.
func TestAStaleSignInCreatesNoApplication(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		s, _ := auth.SessionFrom(dev)
		in := portal.ApplicationInput{Name: "Thief's", RedirectURIs: []string{"https://thief.example/cb"}}

		created, err := e.svc.CreateApplication(staleSession(dev), in)
		wantReauthentication(t, "creating an application", err)
		if created != nil {
			t.Errorf("a stale sign-in was handed a client secret: %+v", created)
		}
		owned, err := e.db.Application.Query().Where(application.OwnerID(s.UserID)).Count(context.Background())
		if err != nil || owned != 0 {
			t.Fatalf("applications owned after the refusal: %d, %v; want 0", owned, err)
		}

		if _, err := e.svc.CreateApplication(dev, in); err != nil {
			t.Fatalf("the same developer signed in again: %v, want created", err)
		}
	})
}
