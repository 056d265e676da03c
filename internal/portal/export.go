package portal

import (
	"context"
	"strconv"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
)

// MaxUserExport is the most users one export may hold; a larger list must be narrowed with
// the list's filters.
const MaxUserExport = 100_000

// ExportUsers returns every user of the signed-in developer's application appID that the
// users list would show with p's filters and order (p's paging is ignored), page by page
// through ConnectedUsers, and records the export in the application's activity log. A list
// longer than MaxUserExport answers Invalid ("too_many_users") before any row is read.
func (s *Service) ExportUsers(ctx context.Context, appID string, p UserPage) ([]*ent.AppConnection, error) {
	one := 1
	p.After, p.Before, p.Last, p.First = nil, nil, nil, &one
	probe, err := s.ConnectedUsers(ctx, appID, p)
	if err != nil {
		return nil, err
	}
	if probe.TotalCount > MaxUserExport {
		return nil, apperr.WithReason(apperr.Invalid, "too_many_users",
			"%d users match; an export holds at most %d, narrow the list with filters", probe.TotalCount, MaxUserExport)
	}
	page := MaxUserPage
	p.First = &page
	var out []*ent.AppConnection
	for {
		conn, err := s.ConnectedUsers(ctx, appID, p)
		if err != nil {
			return nil, err
		}
		for _, e := range conn.Edges {
			out = append(out, e.Node)
		}
		if !conn.PageInfo.HasNextPage || conn.PageInfo.EndCursor == nil || len(out) >= MaxUserExport {
			break
		}
		p.After = conn.PageInfo.EndCursor
	}
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		return activity.Record(ctx, tx, activity.Event{Type: activity.UsersExported, Actor: activity.ByDeveloper, ApplicationID: appID,
			Details: map[string]string{"format": "csv", "count": strconv.Itoa(len(out))}, At: s.now()})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
