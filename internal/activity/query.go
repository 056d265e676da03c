package activity

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/application"
	"loginsign/ent/auditevent"
	"loginsign/ent/predicate"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// DefaultRetention is how long events are kept when LOGINSIGN_ACTIVITY_RETENTION_DAYS is unset.
const DefaultRetention = 400 * 24 * time.Hour

// Page sizes.
const (
	DefaultPage = 50
	MaxPage     = 100
)

// Service reads the log and deletes expired events.
type Service struct {
	DB *store.DB
	// Owned returns the application if the signed-in developer may read its activity
	// (team.ReadActivity through team.Authorize): NotFound off the team, Forbidden for a role
	// without it.
	Owned func(ctx context.Context, appID string) (*ent.Application, error)
	// Retention is how long events are kept; DefaultRetention when zero.
	Retention time.Duration
	Now       func() time.Time
}

// Filter narrows a listing: to some types, to one application (the person's view).
type Filter struct {
	Types         []Type
	ApplicationID string
}

// Page asks for First events after the cursor After ("" for the newest).
type Page struct {
	First int
	After string
}

// View is an event as a reader sees it: never the user id.
type View struct {
	ID              string
	Type            Type
	Actor           Actor
	ApplicationID   string
	ApplicationName string
	ConnectionID    string
	Details         map[string]string
	At              time.Time
}

// List is one page of events, newest first. NextCursor is "" on the last page.
type List struct {
	Events     []View
	NextCursor string
}

// ForPerson lists the events of userID, who must be the signed-in person: anyone else gets
// NotFound.
func (s *Service) ForPerson(ctx context.Context, userID string, f Filter, p Page) (*List, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if uid != userID {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	where := []predicate.ActivityEvent{activityevent.UserID(uid)}
	if f.ApplicationID != "" {
		where = append(where, activityevent.ApplicationID(f.ApplicationID))
	}
	return s.list(ctx, where, f, p, nil)
}

// ForApplication lists the events of application appID for a developer who owns it, except
// the personOnly types; any other caller gets NotFound, as for a missing application.
func (s *Service) ForApplication(ctx context.Context, appID string, f Filter, p Page) (*List, error) {
	app, err := s.Owned(ctx, appID)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, []predicate.ActivityEvent{activityevent.ApplicationID(app.ID), activityevent.TypeNotIn(personOnly...)}, f, p, app)
}

// personOnly are the types of events that concern an application but only its person sees:
// a refused pending link would tell the developer that an imported address has an account
// (only a signed-in person can refuse), which the import itself never tells; the person's
// answer to an address an application proposed (confirmed, cancelled) would tell an
// application that sees only the relay alias which of its guesses is the person's address,
// which the proposal's answer and the webhooks never tell; a sign-in is recorded for the
// application of the flow before the person answers its consent page, so the application
// would see sign-ins (their time, the method, where from) of people who then denied it
// anything, and the method more finely than the id_token's amr says it.
var personOnly = []string{string(PendingLinkRefused), string(LicenseEnded), string(EmailChangeConfirm), string(EmailChangeCancel),
	string(SignIn)}

func (s *Service) list(ctx context.Context, where []predicate.ActivityEvent, f Filter, p Page, app *ent.Application) (*List, error) {
	n := p.First
	switch {
	case n == 0:
		n = DefaultPage
	case n < 0 || n > MaxPage:
		return nil, apperr.WithReason(apperr.Invalid, "bad_page_size", "first must be between 1 and %d", MaxPage)
	}
	if len(f.Types) > len(Types) {
		// Checked before the work: each type is one bound parameter, and 40,000 of them passed
		// SQLite's limit (70,000 PostgreSQL's) and failed as an internal error.
		return nil, apperr.WithReason(apperr.Invalid, "bad_types", "types may name each of the %d event types once", len(Types))
	}
	if len(f.Types) > 0 {
		names := make([]string, 0, len(f.Types))
		for _, t := range f.Types {
			if !Known(t) {
				return nil, apperr.WithReason(apperr.Invalid, "unknown_type", "unknown event type %q", t)
			}
			if !slices.Contains(names, string(t)) {
				names = append(names, string(t))
			}
		}
		where = append(where, activityevent.TypeIn(names...))
	}
	if p.After != "" {
		at, id, ok := parseCursor(p.After)
		if !ok {
			return nil, BadCursor()
		}
		where = append(where, activityevent.Or(activityevent.CreatedAtLT(at),
			activityevent.And(activityevent.CreatedAt(at), activityevent.IDLT(id))))
	}
	rows, err := s.DB.ActivityEvent.Query().Where(where...).
		Order(activityevent.ByCreatedAt(sql.OrderDesc()), activityevent.ByID(sql.OrderDesc())).
		Limit(n + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading activity: %w", err)
	}
	out := &List{}
	if len(rows) > n {
		rows = rows[:n]
		last := rows[n-1]
		out.NextCursor = cursor(last.CreatedAt, last.ID)
	}
	names, err := s.appNames(ctx, rows, app)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out.Events = append(out.Events, View{ID: r.ID, Type: Type(r.Type), Actor: r.Actor, ApplicationID: r.ApplicationID,
			ApplicationName: names[r.ApplicationID], ConnectionID: r.ConnectionID, Details: r.Details, At: r.CreatedAt.UTC()})
	}
	return out, nil
}

// appNames loads the names of the applications of rows in one query.
func (s *Service) appNames(ctx context.Context, rows []*ent.ActivityEvent, known *ent.Application) (map[string]string, error) {
	names := map[string]string{}
	if known != nil {
		names[known.ID] = known.Name
		return names, nil
	}
	var idList []string
	for _, r := range rows {
		if r.ApplicationID != "" {
			idList = append(idList, r.ApplicationID)
		}
	}
	if len(idList) == 0 {
		return names, nil
	}
	apps, err := s.DB.Application.Query().Where(application.IDIn(idList...)).
		Select(application.FieldID, application.FieldName).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading application names: %w", err)
	}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	return names, nil
}

// BadCursor is the answer for a cursor this list did not give out (Invalid, reason
// bad_cursor). Page.After "" means no cursor; a transport that tells an empty cursor from
// none (GraphQL's after: "") answers BadCursor for it, as every list refuses an empty cursor
// (Relay: a cursor is one a list gave out).
func BadCursor() error {
	return apperr.WithReason(apperr.Invalid, "bad_cursor", "the cursor is not one this list gave")
}

func cursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + ":" + id))
}

func parseCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	// An id this list gave: PostgreSQL refuses a NUL or bytes that are not UTF-8, and SQLite
	// would answer a page for them.
	if !ok || err != nil || !ids.Valid(ids.ActivityEvent, id) {
		return time.Time{}, "", false
	}
	return time.Unix(0, n).UTC(), id, true
}

func (s *Service) retention() time.Duration {
	if s.Retention <= 0 {
		return DefaultRetention
	}
	return s.Retention
}

// Purge deletes the activity events and the audit events (ent's AuditEvent: primary-address
// changes, closed accounts, deleted applications) older than the retention period,
// store.PurgeBatch rows per statement, and returns how many it deleted. An address change's
// audit event holds the old and the new address, which were otherwise kept for as long as
// the account lived.
func (s *Service) Purge(ctx context.Context) (int, error) {
	cutoff := s.Now().UTC().Add(-s.retention())
	total := 0
	for _, t := range []struct {
		what string
		ids  func(ctx context.Context, limit int) ([]string, error)
		del  func(ctx context.Context, ids []string) (int, error)
	}{
		{"expired activity",
			func(ctx context.Context, limit int) ([]string, error) {
				return s.DB.ActivityEvent.Query().Where(activityevent.CreatedAtLT(cutoff)).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []string) (int, error) {
				return s.DB.ActivityEvent.Delete().Where(activityevent.IDIn(ids...)).Exec(ctx)
			}},
		{"expired audit events",
			func(ctx context.Context, limit int) ([]string, error) {
				return s.DB.AuditEvent.Query().Where(auditevent.CreatedAtLT(cutoff)).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []string) (int, error) {
				return s.DB.AuditEvent.Delete().Where(auditevent.IDIn(ids...)).Exec(ctx)
			}},
	} {
		n, err := store.Purge(ctx, t.what, t.ids, t.del)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// DeletePerson deletes userID's events inside tx (account deletion): what concerned only the
// person goes with them; an application's own events (UserID "") stay.
func DeletePerson(ctx context.Context, tx *ent.Tx, userID string) error {
	if _, err := tx.ActivityEvent.Delete().Where(activityevent.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting activity: %w", err)
	}
	return nil
}
