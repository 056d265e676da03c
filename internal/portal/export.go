package portal

import (
	"context"
	"strconv"
	"time"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ratelimit"
	"loginsign/internal/team"
)

// MaxUserExport is the most users one export may hold; a larger list must be narrowed with
// the list's filters.
const MaxUserExport = 100_000

// DefaultExports is how many users exports one developer may run per hour (Service.Exports).
var DefaultExports = ratelimit.Rule{Name: "users-export", N: 10, Window: time.Hour}

// ExportUsers returns every user of the signed-in developer's application appID that the
// users list would show with p's filters and order (p's paging is ignored), page by page
// through ConnectedUsers, and records the export in the application's activity log. It needs
// a sign-in of the last auth.RecentSignIn (Unauthorized, reauthentication_required), asked
// after the team's answers (NotFound, Forbidden) and before anything else: the export hands
// over the shown address and Global User ID of up to MaxUserExport people at once, so a
// session cookie taken from a developer's browser must not be enough to carry the whole list
// away. Past Exports per developer it answers RateLimited before reading anything. A list
// longer than MaxUserExport answers Invalid ("too_many_users") before any row is read. The
// caller's role must allow ExportUsers before every page and when the export is recorded: a
// member demoted or removed while it runs gets Forbidden or NotFound, not the list
// (ConnectedUsers alone asks for ReadUsers, which support has).
func (s *Service) ExportUsers(ctx context.Context, appID string, in UsersPage) ([]*ent.AppConnection, error) {
	p, err := in.page()
	if err != nil {
		return nil, err
	}
	app, err := s.Authorize(ctx, appID, team.ExportUsers)
	if err != nil {
		return nil, err
	}
	// Checked before the limit, so a refusal spends none of the developer's exports, and
	// before any row is read or the export recorded. Only at the start, as every other
	// operation asks: an export that began with a recent sign-in finishes.
	if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
		return nil, err
	}
	// Counted before any row is read: an export reads up to MaxUserExport rows. The count is
	// the asking developer's, so a team member cannot spend the owner's (on every application
	// the owner has) nor the owner a member's.
	if err := s.Limiter.TakeForUser(ctx, s.Exports.Or(DefaultExports)); err != nil {
		return nil, err
	}
	one := 1
	p.After, p.Before, p.Last, p.First = nil, nil, nil, &one
	probe, err := s.ConnectedUsers(ctx, app.ID, p)
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
		if _, err := s.Authorize(ctx, app.ID, team.ExportUsers); err != nil {
			return nil, err
		}
		conn, err := s.ConnectedUsers(ctx, app.ID, p)
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
		if _, err := s.authorizeTx(ctx, tx, app.ID, team.ExportUsers); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.UsersExported, Actor: activity.ByDeveloper, ApplicationID: app.ID,
			Details: map[string]string{"format": "csv", "count": strconv.Itoa(len(out))}, At: s.now()})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
