package portal_test

import (
	"context"
	"sync"
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// TestADeletionIsToldOnceFromWhatWasReadBeforeIt: the deletion of an application gives one
// security notice (team.DeletionBegun), when it begins, carrying what the mail needs though
// the application and its team are gone when it is mailed: the application's name, its owner
// and admins with their addresses and languages, the owner's address. Attempts after a
// failure half-way give none (the deletion was told), and a refused deletion gives none.
func TestADeletionIsToldOnceFromWhatWasReadBeforeIt(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		var mu sync.Mutex
		var got []team.Notice
		e.svc.Notify = func(_ context.Context, n team.Notice) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, n)
		}
		dev := e.developer(t)
		app := e.app(t, dev)
		e.connect(t, e.person(t), app, "")
		admin := e.member(t, app, appmember.RoleAdmin)
		developer := e.member(t, app, appmember.RoleDeveloper)
		if err := e.svc.DeleteApplication(admin, app.ID); err == nil {
			t.Fatal("an admin deleted the application")
		}
		if len(got) != 0 {
			t.Fatalf("a refused deletion told %+v", got)
		}
		failDeletionHalfWay(t, e, dev, app)
		failDeletionHalfWay(t, e, dev, app)
		if err := e.svc.DeleteApplication(dev, app.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Application.Get(ctx, app.ID); !store.NotFound(err) {
			t.Fatalf("the application after its deletion: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0].Event != team.DeletionBegun {
			t.Fatalf("notices %+v, want one %s", got, team.DeletionBegun)
		}
		n := got[0]
		ownerID, _ := auth.RequireUser(dev)
		adminID, _ := auth.RequireUser(admin)
		developerID, _ := auth.RequireUser(developer)
		owner := e.db.User.GetX(ctx, ownerID)
		if n.ApplicationID != app.ID || n.AppName != app.Name || n.ActorID != ownerID || n.ActorAddress != owner.Email || n.At.IsZero() {
			t.Errorf("notice %+v, want application %s named %q, by %s (%s)", n, app.ID, app.Name, ownerID, owner.Email)
		}
		to := map[string]string{}
		for _, r := range n.Recipients {
			to[r.UserID] = r.Email
		}
		if len(to) != 2 || to[ownerID] != owner.Email || to[adminID] != e.db.User.GetX(ctx, adminID).Email || to[developerID] != "" {
			t.Errorf("recipients %+v, want the owner and the admin at their primary addresses", n.Recipients)
		}
	})
}
