package dataexport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// proposeFromApps stores n open pending links for addr, one from each of n new applications
// of owner (any developer may propose an address, from any of their applications).
func (e *exportEnv) proposeFromApps(owner *ent.User, addr string, n int) {
	e.t.Helper()
	ctx := context.Background()
	apps := make([]*ent.ApplicationCreate, n)
	for i := range apps {
		apps[i] = e.db.Application.Create().SetOwnerID(owner.ID).SetName(fmt.Sprintf("proposer-%d", i)).SetSecretHash("x")
	}
	created := e.db.Application.CreateBulk(apps...).SaveX(ctx)
	links := make([]*ent.PendingLinkCreate, n)
	for i, a := range created {
		links[i] = e.db.PendingLink.Create().SetApplicationID(a.ID).SetEmail(addr).SetExternalUserID(fmt.Sprintf("ext-%d", i)).
			SetCreatedAt(now).SetUpdatedAt(now)
	}
	e.db.PendingLink.CreateBulk(links...).ExecX(ctx)
}

// exported is the export's JSON document of u, as the download answers it.
func (e *exportEnv) exported(u *ent.User) map[string]any {
	e.t.Helper()
	doc, err := e.svc.Export(signedIn(u))
	if err != nil {
		e.t.Fatalf("Export: %v", err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		e.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestAnExportHoldsEveryPendingLink16: a person whose address 150 applications proposed to
// link (imports by any developers: a person's open proposals have no bound of their own) gets
// all 150 in their export, and pendingLinksComplete says the list is whole. Before, the export
// read the dashboard's list, cut at 100, and passed the part for the whole.
func TestAnExportHoldsEveryPendingLink16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		person, dev := e.user("proposed@example.com"), e.user("importer@example.com")
		e.proposeFromApps(dev, person.Email, 150)

		doc := e.exported(person)
		links, _ := doc["pendingLinks"].([]any)
		if len(links) != 150 {
			t.Errorf("the export holds %d pending links, want all 150", len(links))
		}
		if complete, ok := doc["pendingLinksComplete"].(bool); !ok || !complete {
			t.Errorf("pendingLinksComplete %v (present %v), want true", doc["pendingLinksComplete"], ok)
		}
	})
}

// TestAnExportSaysWhenItsPendingLinksAreCut16: past the document's bound
// (Service.MaxPendingLinks, 10,000 by default) the export holds the newest links and says
// the list is cut (pendingLinksComplete false) instead of passing a part for the whole.
func TestAnExportSaysWhenItsPendingLinksAreCut16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		e.svc.MaxPendingLinks = 20
		person, dev := e.user("proposed@example.com"), e.user("importer@example.com")
		e.proposeFromApps(dev, person.Email, 21)

		doc := e.exported(person)
		if links, _ := doc["pendingLinks"].([]any); len(links) != 20 {
			t.Errorf("the export holds %d pending links, want the bound's 20", len(links))
		}
		if complete, ok := doc["pendingLinksComplete"].(bool); !ok || complete {
			t.Errorf("pendingLinksComplete %v (present %v), want false", doc["pendingLinksComplete"], ok)
		}
		e.svc.MaxPendingLinks = 21
		if doc := e.exported(person); doc["pendingLinksComplete"] != true {
			t.Errorf("pendingLinksComplete %v with exactly the bound's links, want true", doc["pendingLinksComplete"])
		}
	})
}

// TestAnExportHoldsEveryTeamInvitation16: a person invited to 150 teams (any developer may
// invite any address) gets all 150 invitations in their export, and teamInvitationsComplete
// says the list is whole. Before, the export read the portal's list, cut at 100, silently.
func TestAnExportHoldsEveryTeamInvitation16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ctx := context.Background()
		person, dev := e.user("invited@example.com"), e.user("inviter@example.com")
		apps := make([]*ent.ApplicationCreate, 150)
		for i := range apps {
			apps[i] = db.Application.Create().SetOwnerID(dev.ID).SetName(fmt.Sprintf("team-%d", i)).SetSecretHash("x")
		}
		invs := []*ent.AppInvitationCreate{}
		for i, a := range db.Application.CreateBulk(apps...).SaveX(ctx) {
			invs = append(invs, db.AppInvitation.Create().SetApplicationID(a.ID).SetEmail(person.Email).SetRole("developer").
				SetTokenHash(fmt.Sprintf("token-%d", i)).SetInvitedBy(dev.ID).SetCreatedAt(now).SetExpiresAt(now.Add(time.Hour)))
		}
		db.AppInvitation.CreateBulk(invs...).ExecX(ctx)

		doc := e.exported(person)
		if got, _ := doc["teamInvitations"].([]any); len(got) != 150 {
			t.Errorf("the export holds %d team invitations, want all 150", len(got))
		}
		if complete, ok := doc["teamInvitationsComplete"].(bool); !ok || !complete {
			t.Errorf("teamInvitationsComplete %v (present %v), want true", doc["teamInvitationsComplete"], ok)
		}
	})
}
