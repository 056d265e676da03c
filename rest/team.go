package rest

import (
	"net/http"

	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/team"
)

// Teams (internal/team) over REST: /api/developer/applications/{appId}/members…, the
// ownership transfer, and the signed-in person's invitations. Every rule lives in team.Service.

type memberJSON struct {
	UserID   string  `json:"userId"`
	Name     *string `json:"name"`
	Email    string  `json:"email"`
	Role     string  `json:"role"`
	JoinedAt string  `json:"joinedAt"`
	IsViewer bool    `json:"isViewer"`
}

type invitationJSON struct {
	ID              string `json:"id"`
	ApplicationID   string `json:"applicationId"`
	ApplicationName string `json:"applicationName"`
	Email           string `json:"email"`
	Role            string `json:"role"`
	CreatedAt       string `json:"createdAt"`
	ExpiresAt       string `json:"expiresAt"`
}

type transferJSON struct {
	ToUserID  string `json:"toUserId"`
	ToEmail   string `json:"toEmail"`
	ExpiresAt string `json:"expiresAt"`
}

func toMemberJSON(m team.Member, viewer string) memberJSON {
	return memberJSON{UserID: m.UserID, Name: nullable(m.Name), Email: m.Email, Role: string(m.Role),
		JoinedAt: httpx.Time(m.JoinedAt), IsViewer: m.UserID == viewer}
}

func toInvitationJSON(i team.Invitation) invitationJSON {
	return invitationJSON{ID: i.ID, ApplicationID: i.ApplicationID, ApplicationName: i.ApplicationName, Email: i.Email,
		Role: string(i.Role), CreatedAt: httpx.Time(i.CreatedAt), ExpiresAt: httpx.Time(i.ExpiresAt)}
}

func toTransferJSON(t *team.Transfer) *transferJSON {
	if t == nil {
		return nil
	}
	return &transferJSON{ToUserID: t.ToUserID, ToEmail: t.ToEmail, ExpiresAt: httpx.Time(t.ExpiresAt)}
}

func invitationsJSON(invs []team.Invitation) []invitationJSON {
	out := make([]invitationJSON, 0, len(invs))
	for _, i := range invs {
		out = append(out, toInvitationJSON(i))
	}
	return out
}

// Members answers GET …/members: the team (owner first) and the pending transfer.
func (a *API) Members(w http.ResponseWriter, r *http.Request) {
	t := a.Portal.Team()
	appID := r.PathValue("appId")
	ms, err := t.Members(r.Context(), appID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	tr, err := t.PendingTransfer(r.Context(), appID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	uid, _ := auth.RequireUser(r.Context())
	out := struct {
		Members           []memberJSON  `json:"members"`
		OwnershipTransfer *transferJSON `json:"ownershipTransfer"`
	}{Members: []memberJSON{}, OwnershipTransfer: toTransferJSON(tr)}
	for _, m := range ms {
		out.Members = append(out.Members, toMemberJSON(m, uid))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// Invitations answers GET …/members/invitations (owner and admin).
func (a *API) Invitations(w http.ResponseWriter, r *http.Request) {
	invs, err := a.Portal.Team().Invitations(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"invitations": invitationsJSON(invs)})
}

type roleBody struct {
	Email  string `json:"email"`
	Role   string `json:"role"`
	UserID string `json:"userId"`
}

// InviteMember answers POST …/members/invitations {email, role} with 201 and the
// invitation; the answer is the same whether or not the address has an account.
func (a *API) InviteMember(w http.ResponseWriter, r *http.Request) {
	var b roleBody
	if err := httpx.DecodeJSON(w, r, &b, 4096); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	role, err := team.ParseRole(b.Role)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	inv, err := a.Portal.Team().Invite(r.Context(), r.PathValue("appId"), b.Email, role)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"invitation": toInvitationJSON(*inv)})
}

// RevokeInvitation answers DELETE …/members/invitations/{invitationId}.
func (a *API) RevokeInvitation(w http.ResponseWriter, r *http.Request) {
	if err := a.Portal.Team().Revoke(r.Context(), r.PathValue("appId"), r.PathValue("invitationId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okBody{OK: true})
}

// ChangeMemberRole answers PATCH …/members/{userId} {role} with the member.
func (a *API) ChangeMemberRole(w http.ResponseWriter, r *http.Request) {
	var b roleBody
	if err := httpx.DecodeJSON(w, r, &b, 4096); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	role, err := team.ParseRole(b.Role)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	m, err := a.Portal.Team().ChangeRole(r.Context(), r.PathValue("appId"), r.PathValue("userId"), role)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	uid, _ := auth.RequireUser(r.Context())
	httpx.WriteJSON(w, http.StatusOK, toMemberJSON(*m, uid))
}

// RemoveMember answers DELETE …/members/{userId}; one's own id leaves the team.
func (a *API) RemoveMember(w http.ResponseWriter, r *http.Request) {
	if err := a.Portal.Team().Remove(r.Context(), r.PathValue("appId"), r.PathValue("userId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okBody{OK: true})
}

// LeaveApplication answers POST …/members/leave.
func (a *API) LeaveApplication(w http.ResponseWriter, r *http.Request) {
	if err := a.Portal.Team().Leave(r.Context(), r.PathValue("appId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okBody{OK: true})
}

// ProposeTransfer answers POST …/transfer {userId} (owner) with the pending transfer.
func (a *API) ProposeTransfer(w http.ResponseWriter, r *http.Request) {
	var b roleBody
	if err := httpx.DecodeJSON(w, r, &b, 4096); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	t, err := a.Portal.Team().ProposeTransfer(r.Context(), r.PathValue("appId"), b.UserID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toTransferJSON(t))
}

// AcceptTransfer answers POST …/transfer/accept (the proposed member) with the application.
func (a *API) AcceptTransfer(w http.ResponseWriter, r *http.Request) {
	app, err := a.Portal.Team().AcceptTransfer(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := toDeveloperApplication(app)
	out.Role = string(team.Owner)
	httpx.WriteJSON(w, http.StatusOK, out)
}

// CancelTransfer answers DELETE …/transfer (the owner cancels, the proposed member declines).
func (a *API) CancelTransfer(w http.ResponseWriter, r *http.Request) {
	if err := a.Portal.Team().CancelTransfer(r.Context(), r.PathValue("appId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okBody{OK: true})
}

// MyInvitations answers GET /api/developer/invitations: the invitations waiting for the
// signed-in person's verified addresses.
func (a *API) MyInvitations(w http.ResponseWriter, r *http.Request) {
	invs, err := a.Portal.Team().ViewerInvitations(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"invitations": invitationsJSON(invs)})
}

// AcceptInvitation answers POST /api/developer/invitations/accept {token | invitationId}
// with {applicationId, role}.
func (a *API) AcceptInvitation(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Token        string `json:"token"`
		InvitationID string `json:"invitationId"`
	}
	if err := httpx.DecodeJSON(w, r, &b, 4096); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	app, role, err := a.Portal.Team().Accept(r.Context(), b.Token, b.InvitationID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"applicationId": app.ID, "applicationName": app.Name, "role": string(role)})
}
