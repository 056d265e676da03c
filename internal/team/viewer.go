package team

import (
	"context"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/auth"
)

// Membership is the signed-in person's place on one application's team.
type Membership struct {
	ApplicationID   string
	ApplicationName string
	Role            Role
	// Email is the address the team sees of the person (the invited address, the primary
	// address for the owner).
	Email string
	Since time.Time
}

// ProposedTransfer is an ownership transfer proposed to the signed-in person.
type ProposedTransfer struct {
	ApplicationID   string
	ApplicationName string
	ExpiresAt       time.Time
}

// maxViewerTeams bounds the teams, and apart the proposed transfers, read for one person.
const maxViewerTeams = 1000

// ViewerMemberships lists the teams the signed-in person is on: the applications they own
// (since the application was created, as Members shows the owner) and those they are a member
// of (since they joined), by application name. Nothing of the other members.
func (s *Service) ViewerMemberships(ctx context.Context) ([]Membership, error) {
	out, _, err := s.ViewerMembershipsUpTo(ctx, maxViewerTeams)
	return out, err
}

// ViewerMembershipsUpTo is ViewerMemberships reading up to limit teams in all, and reports
// whether it read them all (false: the person is on more teams, the latest joined left out).
// The applications a person owns are bounded (MaxOwnedApplications) but the teams they join
// are not: accepting is the person's own act, yet no rule caps how many teams one person is
// on, so a reader that must not pass a part for the whole (the data export) says so with
// complete. The owned applications come first, then the memberships, oldest first.
func (s *Service) ViewerMembershipsUpTo(ctx context.Context, limit int) (out []Membership, complete bool, err error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, false, err
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return nil, false, err
	}
	owned, err := s.DB.Application.Query().Where(application.OwnerID(uid)).
		Order(ent.Asc(application.FieldName), ent.Asc(application.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, false, err
	}
	ownedAll := len(owned) <= limit
	owned = owned[:min(len(owned), limit)]
	out = make([]Membership, 0, len(owned))
	for _, a := range owned {
		out = append(out, Membership{ApplicationID: a.ID, ApplicationName: a.Name, Role: Owner, Email: u.Email, Since: a.CreatedAt})
	}
	left := limit - len(out)
	ms, err := s.DB.AppMember.Query().Where(appmember.UserID(uid)).WithApplication().
		Order(ent.Asc(appmember.FieldCreatedAt), ent.Asc(appmember.FieldID)).Limit(left + 1).All(ctx)
	if err != nil {
		return nil, false, err
	}
	complete = ownedAll && len(ms) <= left
	ms = ms[:min(len(ms), left)]
	for _, m := range ms {
		name := ""
		if m.Edges.Application != nil {
			name = m.Edges.Application.Name
		}
		out = append(out, Membership{ApplicationID: m.ApplicationID, ApplicationName: name, Role: Role(m.Role), Email: m.Email, Since: m.CreatedAt})
	}
	return out, complete, nil
}

// ViewerTransfers lists the ownership transfers proposed to the signed-in person and not yet
// accepted, cancelled or expired, the newest proposals first.
func (s *Service) ViewerTransfers(ctx context.Context) ([]ProposedTransfer, error) {
	out, _, err := s.ViewerTransfersUpTo(ctx, maxViewerTeams)
	return out, err
}

// ViewerTransfersUpTo is ViewerTransfers reading up to limit transfers, and reports whether
// it read them all (false: more are proposed, older than those listed). Any owner may propose
// a transfer to any person, so the transfers a person has pending have no bound of their own:
// a reader that must not pass a part for the whole (the data export) says so with complete.
// Every proposal lasts TransferTTL, so the latest expiry is the newest proposal.
func (s *Service) ViewerTransfersUpTo(ctx context.Context, limit int) (out []ProposedTransfer, complete bool, err error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, false, err
	}
	apps, err := s.DB.Application.Query().Where(application.TransferTo(uid), application.TransferExpiresAtGT(s.now())).
		Order(ent.Desc(application.FieldTransferExpiresAt), ent.Asc(application.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, false, err
	}
	complete = len(apps) <= limit
	apps = apps[:min(len(apps), limit)]
	out = make([]ProposedTransfer, 0, len(apps))
	for _, a := range apps {
		out = append(out, ProposedTransfer{ApplicationID: a.ID, ApplicationName: a.Name, ExpiresAt: *a.TransferExpiresAt})
	}
	return out, complete, nil
}
