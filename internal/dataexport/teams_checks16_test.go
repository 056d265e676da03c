package dataexport_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// newApps stores n applications of owner, named prefix-i.
func (e *exportEnv) newApps(owner *ent.User, prefix string, n int, set func(*ent.ApplicationCreate)) []*ent.Application {
	e.t.Helper()
	apps := make([]*ent.ApplicationCreate, n)
	for i := range apps {
		apps[i] = e.db.Application.Create().SetOwnerID(owner.ID).SetName(fmt.Sprintf("%s-%d", prefix, i)).SetSecretHash("x")
		if set != nil {
			set(apps[i])
		}
	}
	return e.db.Application.CreateBulk(apps...).SaveX(context.Background())
}

// TestAnExportSaysWhenItsOwnershipTransfersAreCut16: any owner may propose to hand an
// application over to any person, so the transfers a person has pending have no bound of
// their own. Past the document's bound (1,000 by default) the export holds the newest and
// says the list is cut (ownershipTransfersComplete false); within it, the list is whole.
// Before, the export read up to 1,000 transfers and passed the part for the whole, unmarked.
func TestAnExportSaysWhenItsOwnershipTransfersAreCut16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		person, dev := e.user("proposed-owner@example.com"), e.user("owner@example.com")
		expires := now.Add(time.Hour)
		e.newApps(dev, "handed", 1001, func(c *ent.ApplicationCreate) { c.SetTransferTo(person.ID).SetTransferExpiresAt(expires) })
		newest := e.newApps(dev, "newest", 1, func(c *ent.ApplicationCreate) {
			c.SetTransferTo(person.ID).SetTransferExpiresAt(expires.Add(time.Minute))
		})[0]

		doc := e.exported(person)
		trs, _ := doc["ownershipTransfers"].([]any)
		if len(trs) != 1000 {
			t.Errorf("the export holds %d ownership transfers, want the bound's 1,000", len(trs))
		}
		if complete, ok := doc["ownershipTransfersComplete"].(bool); !ok || complete {
			t.Errorf("ownershipTransfersComplete %v (present %v), want false", doc["ownershipTransfersComplete"], ok)
		}
		if len(trs) > 0 {
			if first, _ := trs[0].(map[string]any); first["applicationId"] != newest.ID {
				t.Errorf("the first transfer is %v, want the newest proposal %s", first["applicationId"], newest.ID)
			}
		}

		// Two owners cancel: exactly the bound's 1,000 are left, and the list is whole.
		cancelled := e.db.Application.Query().Where(application.NameIn("handed-0", "handed-1")).IDsX(context.Background())
		e.db.Application.Update().Where(application.IDIn(cancelled...)).ClearTransferTo().ClearTransferExpiresAt().ExecX(context.Background())
		doc = e.exported(person)
		if trs, _ := doc["ownershipTransfers"].([]any); len(trs) != 1000 {
			t.Errorf("the export holds %d ownership transfers, want all 1,000", len(trs))
		}
		if doc["ownershipTransfersComplete"] != true {
			t.Errorf("ownershipTransfersComplete %v with exactly the bound's transfers, want true", doc["ownershipTransfersComplete"])
		}
	})
}

// TestAnExportSaysWhenItsTeamsAreCut16: the applications a person owns are bounded
// (team.MaxOwnedApplications) but the teams they join are not, so past the document's bound
// (1,000 by default) the export says its teams are cut (teamsComplete false), and within it
// that they are whole. Before, it read up to 1,000 memberships, unmarked.
func TestAnExportSaysWhenItsTeamsAreCut16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ctx := context.Background()
		person, dev := e.user("member@example.com"), e.user("teams@example.com")
		e.newApps(person, "mine", 2, nil)
		apps := e.newApps(dev, "joined", 1000, nil)
		ms := make([]*ent.AppMemberCreate, len(apps))
		for i, a := range apps {
			ms[i] = db.AppMember.Create().SetApplicationID(a.ID).SetUserID(person.ID).SetRole("developer").
				SetEmail(person.Email).SetCreatedAt(now.Add(time.Duration(i) * time.Second))
		}
		db.AppMember.CreateBulk(ms...).ExecX(ctx)

		doc := e.exported(person)
		teams, _ := doc["teams"].([]any)
		if len(teams) != 1000 {
			t.Errorf("the export holds %d teams, want the bound's 1,000", len(teams))
		}
		if complete, ok := doc["teamsComplete"].(bool); !ok || complete {
			t.Errorf("teamsComplete %v (present %v), want false", doc["teamsComplete"], ok)
		}
		owners := 0
		for _, m := range teams {
			if m.(map[string]any)["role"] == "owner" {
				owners++
			}
		}
		if owners != 2 {
			t.Errorf("the cut export holds %d owned applications, want both", owners)
		}

		// The person leaves two teams: exactly the bound's 1,000 are left, and the list is whole.
		db.AppMember.Delete().Where(appmember.UserID(person.ID), appmember.ApplicationIDIn(apps[0].ID, apps[1].ID)).ExecX(ctx)
		doc = e.exported(person)
		if teams, _ := doc["teams"].([]any); len(teams) != 1000 {
			t.Errorf("the export holds %d teams, want all 1,000", len(teams))
		}
		if doc["teamsComplete"] != true {
			t.Errorf("teamsComplete %v with exactly the bound's teams, want true", doc["teamsComplete"])
		}
	})
}
