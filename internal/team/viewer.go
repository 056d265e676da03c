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

// maxViewerTeams bounds the teams read for one person.
const maxViewerTeams = 1000

// ViewerMemberships lists the teams the signed-in person is on: the applications they own
// (since the application was created, as Members shows the owner) and those they are a member
// of (since they joined), by application name. Nothing of the other members.
func (s *Service) ViewerMemberships(ctx context.Context) ([]Membership, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return nil, err
	}
	owned, err := s.DB.Application.Query().Where(application.OwnerID(uid)).
		Order(ent.Asc(application.FieldName), ent.Asc(application.FieldID)).Limit(maxViewerTeams).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Membership, 0, len(owned))
	for _, a := range owned {
		out = append(out, Membership{ApplicationID: a.ID, ApplicationName: a.Name, Role: Owner, Email: u.Email, Since: a.CreatedAt})
	}
	ms, err := s.DB.AppMember.Query().Where(appmember.UserID(uid)).WithApplication().
		Order(ent.Asc(appmember.FieldCreatedAt), ent.Asc(appmember.FieldID)).Limit(maxViewerTeams).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		name := ""
		if m.Edges.Application != nil {
			name = m.Edges.Application.Name
		}
		out = append(out, Membership{ApplicationID: m.ApplicationID, ApplicationName: name, Role: Role(m.Role), Email: m.Email, Since: m.CreatedAt})
	}
	return out, nil
}

// ViewerTransfers lists the ownership transfers proposed to the signed-in person and not yet
// accepted, cancelled or expired.
func (s *Service) ViewerTransfers(ctx context.Context) ([]ProposedTransfer, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := s.DB.Application.Query().Where(application.TransferTo(uid), application.TransferExpiresAtGT(s.now())).
		Order(ent.Asc(application.FieldName), ent.Asc(application.FieldID)).Limit(maxViewerTeams).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ProposedTransfer, 0, len(apps))
	for _, a := range apps {
		out = append(out, ProposedTransfer{ApplicationID: a.ID, ApplicationName: a.Name, ExpiresAt: *a.TransferExpiresAt})
	}
	return out, nil
}
