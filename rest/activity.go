package rest

import (
	"net/http"
	"strconv"
	"strings"

	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
)

// ActivityEvent is one entry of an application's activity log.
type ActivityEvent struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Actor        string            `json:"actor"`
	ConnectionID *string           `json:"connectionId"`
	Details      map[string]string `json:"details"`
	At           string            `json:"at"`
}

// ActivityPage is a page of an application's activity log, newest first.
type ActivityPage struct {
	Events     []ActivityEvent `json:"events"`
	NextCursor *string         `json:"nextCursor"`
}

// ApplicationActivity is GET /api/developer/applications/{appId}/activity: optional limit
// (1–100), cursor (the previous page's nextCursor) and type (comma-separated event types).
func (a *API) ApplicationActivity(w http.ResponseWriter, r *http.Request) {
	v, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var p activity.Page
	var f activity.Filter
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > activity.MaxPage {
			httpx.WriteError(w, r, apperr.New(apperr.Invalid, "limit must be a number from 1 to %d", activity.MaxPage))
			return
		}
		p.First = n
	}
	p.After = v.Get("cursor")
	if len(p.After) > 512 {
		httpx.WriteError(w, r, apperr.New(apperr.Invalid, "cursor is not one this API returned"))
		return
	}
	if s := v.Get("type"); s != "" {
		for _, t := range strings.Split(s, ",") {
			f.Types = append(f.Types, activity.Type(strings.TrimSpace(t)))
		}
	}
	l, err := a.Activity.ForApplication(r.Context(), r.PathValue("appId"), f, p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	page := ActivityPage{Events: []ActivityEvent{}, NextCursor: nonEmpty(l.NextCursor)}
	for _, e := range l.Events {
		d := e.Details
		if d == nil {
			d = map[string]string{}
		}
		page.Events = append(page.Events, ActivityEvent{ID: e.ID, Type: string(e.Type), Actor: string(e.Actor),
			ConnectionID: nonEmpty(e.ConnectionID), Details: d, At: httpx.Time(e.At)})
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}
