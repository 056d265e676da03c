package rest

import (
	"encoding/json"
	"net/http"
	"strconv"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// WebhookEvent is one event of the delivery log.
type WebhookEvent struct {
	ID             string           `json:"id"`
	Type           string           `json:"type"`
	Status         string           `json:"status"`
	Attempts       int              `json:"attempts"`
	LastStatusCode *int             `json:"lastStatusCode"`
	LastError      *string          `json:"lastError"`
	NextAttemptAt  *string          `json:"nextAttemptAt"` // null unless pending
	CreatedAt      string           `json:"createdAt"`
	DeliveredAt    *string          `json:"deliveredAt"`
	Payload        json.RawMessage  `json:"payload"`    // the body exactly as sent
	Deliveries     []WebhookAttempt `json:"deliveries"` // the newest webhooks.MaxAttemptsListed, oldest first
}

// WebhookAttempt is one delivery attempt of an event.
type WebhookAttempt struct {
	Attempt    int     `json:"attempt"`
	StatusCode *int    `json:"statusCode"` // null when no HTTP answer came
	Error      *string `json:"error"`
	DurationMs int     `json:"durationMs"`
	CreatedAt  string  `json:"createdAt"`
}

// WebhookEventPage is a page of the delivery log, newest first.
type WebhookEventPage struct {
	Events     []WebhookEvent `json:"events"`
	NextCursor *string        `json:"nextCursor"`
	TotalCount int            `json:"totalCount"`
}

func webhookEventJSON(ev *ent.WebhookEvent) WebhookEvent {
	out := WebhookEvent{
		ID: ev.ID, Type: ev.Type, Status: string(ev.Status), Attempts: ev.Attempts,
		LastStatusCode: nonZero(ev.LastStatusCode), LastError: nonEmpty(ev.LastError),
		CreatedAt: httpx.Time(ev.CreatedAt), DeliveredAt: httpx.TimePtr(ev.DeliveredAt),
		Payload: json.RawMessage(ev.Payload), Deliveries: []WebhookAttempt{},
	}
	if !json.Valid(out.Payload) {
		out.Payload = json.RawMessage("null")
	}
	if ev.Status == webhookevent.StatusPending {
		out.NextAttemptAt = httpx.TimePtr(&ev.NextAttemptAt)
	}
	for _, a := range ev.Edges.Deliveries {
		out.Deliveries = append(out.Deliveries, WebhookAttempt{Attempt: a.Attempt, StatusCode: nonZero(a.StatusCode),
			Error: nonEmpty(a.Error), DurationMs: a.DurationMs, CreatedAt: httpx.Time(a.CreatedAt)})
	}
	return out
}

func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// WebhookEvents is GET /api/developer/applications/{appId}/webhook/events[?status=&limit=&cursor=]:
// the application's delivery log, newest first, each event with its newest
// webhooks.MaxAttemptsListed attempts in order ("attempts" counts them all, so a reader sees
// when older ones were left out).
func (a *API) WebhookEvents(w http.ResponseWriter, r *http.Request) {
	q := webhooks.EventQuery{WithAttempts: true}
	v, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if s := v.Get("status"); s != "" {
		st := webhookevent.Status(s)
		q.Status = &st
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > webhooks.MaxPageSize {
			httpx.WriteError(w, r, apperr.New(apperr.Invalid, "limit must be a number from 1 to %d", webhooks.MaxPageSize))
			return
		}
		q.First = &n
	}
	if s := v.Get("cursor"); s != "" {
		q.AfterText = s
	}
	conn, err := a.Webhooks.Events(r.Context(), r.PathValue("appId"), q)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	page := WebhookEventPage{Events: []WebhookEvent{}, TotalCount: conn.TotalCount, NextCursor: store.NextCursor(conn.PageInfo)}
	for _, e := range conn.Edges {
		page.Events = append(page.Events, webhookEventJSON(e.Node))
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

// RedeliverWebhookEvent is POST /api/developer/applications/{appId}/webhook/events/{eventId}/redeliver:
// the event is queued for an attempt now (202), answered as the delivery log lists it.
func (a *API) RedeliverWebhookEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := a.Webhooks.Redeliver(r.Context(), r.PathValue("appId"), r.PathValue("eventId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, webhookEventJSON(ev))
}

// TestWebhook is POST /api/developer/applications/{appId}/webhook/test: a ping event is
// queued and delivered at once; the answer carries the attempt.
func (a *API) TestWebhook(w http.ResponseWriter, r *http.Request) {
	ev, err := a.Webhooks.Test(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, webhookEventJSON(ev))
}
