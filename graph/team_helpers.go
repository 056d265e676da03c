package graph

import (
	"strings"

	"loginsign/graph/model"
	"loginsign/internal/team"
)

func toTeamRole(r team.Role) model.TeamRole { return model.TeamRole(strings.ToUpper(string(r))) }

func fromTeamRole(r model.TeamRole) team.Role { return team.Role(strings.ToLower(string(r))) }

func toTeamMember(m team.Member, viewer string) *model.TeamMember {
	return &model.TeamMember{UserID: m.UserID, Name: optional(m.Name), Email: m.Email, Role: toTeamRole(m.Role),
		JoinedAt: m.JoinedAt, IsViewer: m.UserID == viewer}
}

func toTeamInvitations(invs []team.Invitation) []*model.TeamInvitation {
	out := make([]*model.TeamInvitation, 0, len(invs))
	for _, i := range invs {
		out = append(out, &model.TeamInvitation{ID: i.ID, ApplicationID: i.ApplicationID, ApplicationName: i.ApplicationName,
			Email: i.Email, Role: toTeamRole(i.Role), CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt})
	}
	return out
}

func toTransfer(t *team.Transfer) *model.OwnershipTransfer {
	return &model.OwnershipTransfer{ToUserID: t.ToUserID, ToEmail: t.ToEmail, ExpiresAt: t.ExpiresAt}
}
