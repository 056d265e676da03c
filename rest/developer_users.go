package rest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
	"loginsign/internal/portal"
	"loginsign/internal/store"
)

// developerUser is one row of GET /api/developer/applications/:appId/users, exactly as
// documented. email is the address the person shares with the app, or "-".
type developerUser struct {
	ID          string  `json:"id"`
	GlobalID    string  `json:"globalId"`
	Name        *string `json:"name"`
	Email       string  `json:"email"`
	Active      bool    `json:"active"`
	Blocked     bool    `json:"blocked"`
	EmailMuted  bool    `json:"emailMuted"`
	Sessions    int     `json:"sessions"`
	LastSession *string `json:"lastSession"`
	Joined      string  `json:"joined"`
	Region      *string `json:"region"`
	// AppEmail is the developer's own record set by PATCH appEmail; absent when none.
	AppEmail string `json:"appEmail,omitempty"`
}

func toDeveloperUser(c *ent.AppConnection) developerUser {
	u := developerUser{
		ID: c.ID, Email: portal.SharedEmail(c), Active: c.Active, Blocked: c.Blocked,
		EmailMuted: portal.EmailMuted(c), Sessions: c.LoginCount, LastSession: httpx.TimePtr(c.LastSessionAt),
		Joined: httpx.Time(c.JoinedAt), Region: nullable(c.Region), AppEmail: c.DeveloperEmail,
	}
	if p := c.Edges.User; p != nil {
		u.GlobalID, u.Name = p.GlobalID, nullable(portal.SharedName(c))
	}
	return u
}

// userListParams are the optional query parameters of the users list.
var userListParams = map[string]bool{"limit": true, "cursor": true, "active": true, "blocked": true, "muted": true,
	"region": true, "joinedAfter": true, "joinedBefore": true, "lastSessionAfter": true, "lastSessionBefore": true,
	"q": true, "order": true}

// parseUserPage reads the list's query: limit (1–1000, default 1000) and cursor page it (the
// next page's cursor comes in the X-Next-Cursor header), the rest filters (see portal.UserFilter) and
// order (joined, lastSession or sessions, "-" for descending; default -joined).
func parseUserPage(q url.Values) (portal.UsersPage, error) {
	var p portal.UsersPage
	for k := range q {
		if !userListParams[k] {
			return p, apperr.New(apperr.Invalid, "unknown query parameter %q", k)
		}
	}
	f := &portal.UserFilter{Search: q.Get("q")}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{"active", &f.Active}, {"blocked", &f.Blocked}, {"muted", &f.Muted}} {
		if v := q.Get(b.name); v != "" {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return p, apperr.New(apperr.Invalid, "%s must be true or false", b.name)
			}
			*b.dst = &x
		}
	}
	if q.Has("region") {
		r := q.Get("region")
		f.Region = &r
	}
	for _, t := range []struct {
		name string
		dst  **time.Time
	}{{"joinedAfter", &f.JoinedAfter}, {"joinedBefore", &f.JoinedBefore}, {"lastSessionAfter", &f.LastSessionAfter}, {"lastSessionBefore", &f.LastSessionBefore}} {
		if v := q.Get(t.name); v != "" {
			x, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return p, apperr.New(apperr.Invalid, "%s must be an RFC 3339 time such as 2026-05-01T00:00:00Z", t.name)
			}
			*t.dst = &x
		}
	}
	p.Filter = f
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > portal.MaxUserPage {
			return p, apperr.New(apperr.Invalid, "limit must be an integer from 1 to %d", portal.MaxUserPage)
		}
		p.First = &n
	}
	if v := q.Get("cursor"); v != "" {
		// base64 '+' arrives as a space when the client did not escape the query.
		p.After = strings.ReplaceAll(v, " ", "+")
	}
	p.Order = q.Get("order")
	return p, nil
}

// DeveloperUsers answers GET /api/developer/applications/:appId/users with
// {"users":[…],"total"}: total counts every user matching the filters, whatever the page.
func (a *API) DeveloperUsers(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, err := parseUserPage(q)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	conn, err := a.Portal.ListUsers(r.Context(), r.PathValue("appId"), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := struct {
		Users []developerUser `json:"users"`
		Total int             `json:"total"`
	}{Users: make([]developerUser, 0, len(conn.Edges)), Total: conn.TotalCount}
	for _, e := range conn.Edges {
		out.Users = append(out.Users, toDeveloperUser(e.Node))
	}
	if conn.PageInfo.HasNextPage && conn.PageInfo.EndCursor != nil {
		w.Header().Set("X-Next-Cursor", store.CursorText(conn.PageInfo.EndCursor))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// UpdateDeveloperUser answers PATCH /api/developer/applications/:appId/users/:connectionId
// (isForwarding and/or appEmail) with the updated row in the list's shape.
func (a *API) UpdateDeveloperUser(w http.ResponseWriter, r *http.Request) {
	var b struct {
		IsForwarding *bool   `json:"isForwarding"`
		AppEmail     *string `json:"appEmail"`
	}
	if err := httpx.DecodeJSON(w, r, &b, 0); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	conn, err := a.Portal.UpdateConnection(r.Context(), r.PathValue("appId"), r.PathValue("connectionId"),
		portal.ConnectionPatch{IsForwarding: b.IsForwarding, AppEmail: b.AppEmail})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toDeveloperUser(conn))
}

// SyncDeveloperUserEmail answers PATCH …/users/:connectionId/email ({"email"}) with
// {"ok":true,"changed":false,"pending":true}: the person is asked to confirm, and nothing
// changes before they do. The answer is the same whether or not the address belongs to
// anyone; {"ok":true,"changed":false} when it already is the primary address; 400 bad
// address, 404 unknown app or connection.
func (a *API) SyncDeveloperUserEmail(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Email *string `json:"email"`
	}
	if err := httpx.DecodeJSON(w, r, &b, 0); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pending, err := a.Portal.SyncEmail(r.Context(), r.PathValue("appId"), r.PathValue("connectionId"), deref(b.Email))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		OK      bool `json:"ok"`
		Changed bool `json:"changed"`
		Pending bool `json:"pending,omitempty"`
	}{true, false, pending})
}

// DeleteDeveloperUser answers DELETE …/users/:connectionId with {"ok":true}.
func (a *API) DeleteDeveloperUser(w http.ResponseWriter, r *http.Request) {
	if err := a.Portal.DeleteConnection(r.Context(), r.PathValue("appId"), r.PathValue("connectionId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okBody{OK: true})
}

// TestEmailSyncAPI answers POST …/email-sync-api/test.
func (a *API) TestEmailSyncAPI(w http.ResponseWriter, r *http.Request) {
	c, err := a.Portal.TestEmailSync(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		OK                bool     `json:"ok"`
		Endpoint          string   `json:"endpoint"`
		WebhookConfigured bool     `json:"webhookConfigured"`
		Events            []string `json:"events"`
	}{true, c.Endpoint, c.WebhookConfigured, c.Events})
}

// TestCurrentLoginsSyncAPI answers POST …/current-logins-sync-api/test.
func (a *API) TestCurrentLoginsSyncAPI(w http.ResponseWriter, r *http.Request) {
	c, err := a.Portal.TestCurrentLoginsSync(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		OK       bool   `json:"ok"`
		Endpoint string `json:"endpoint"`
		Auth     string `json:"auth"`
		Total    int    `json:"total"`
	}{true, c.Endpoint, c.Auth, c.Total})
}
