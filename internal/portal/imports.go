package portal

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"entgo.io/contrib/entgql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/store"
)

// MaxImportRows is the most rows one import run may hold; more answer TooLarge (413).
const MaxImportRows = 10_000

// Row statuses of an import run (spec §6.3). not_found and name_mismatch are no longer
// answered: they told any developer which addresses have a LoginSign account and compared
// names with private profiles. Runs stored before keep them.
const (
	ImportImported         = "imported"
	ImportAlreadyConnected = "already_connected"
	ImportInvalidRow       = "invalid_row"
)

// ImportStatuses lists every row status an import answers, in the documented order.
var ImportStatuses = []string{ImportImported, ImportAlreadyConnected, ImportInvalidRow}

// ImportUser is one row of an import: the developer's own user key and the address it knows
// the person by; the rest is optional.
type ImportUser struct {
	ExternalUserID   string
	Email            string
	Name             string
	RegistrationDate string // 2026-05-01 or 2026-05-01T12:00:00Z
	LastLoginDate    string
}

// ImportRequest is one import run.
type ImportRequest struct {
	SourceName string
	Kind       string // "json" or "csv"
	Users      []ImportUser
}

// ImportResult is a stored run with one row per input row, in input order.
type ImportResult struct {
	Source *ent.ImportSource
	Rows   []*ent.ImportRow
}

// Import proposes links between the signed-in developer's users and LoginSign accounts: a
// developer can propose, only the person can change. Every valid row is stored as a pending
// link of (application, address) whether or not any account holds the address, and answers
// imported; a pending link becomes a connection only when the person signs in to the
// application and agrees (see connections.AcceptPendingLink), and the person may refuse it
// from their dashboard. A row is already_connected only when a connection of this application
// already shares exactly that address with it (the person chose to show it to the app), so
// the answer tells the developer nothing it did not know; that connection is refreshed
// (reactivated, externalUserId stored, a later lastLoginDate backfilled). Malformed rows are
// invalid_row. No account is looked up, so answers and timing are the same for known and
// unknown addresses, and the result echoes only what the developer sent. Re-running is safe:
// the pending link is updated (a refused one stays refused). Every run is stored as an
// ImportSource with its ImportRows, in one transaction with the links it writes.
func (s *Service) Import(ctx context.Context, appID string, req ImportRequest) (*ImportResult, error) {
	if len(req.Users) > MaxImportRows {
		return nil, apperr.New(apperr.TooLarge, "at most %d rows per import, got %d", MaxImportRows, len(req.Users))
	}
	if len(req.Users) == 0 {
		return nil, apperr.New(apperr.Invalid, "users must hold at least one row")
	}
	if req.Kind != "csv" {
		req.Kind = "json"
	}
	now := s.now()
	name := strings.TrimSpace(req.SourceName)
	if name == "" {
		name = fmt.Sprintf("%s import %s", strings.ToUpper(req.Kind), now.Format(time.RFC3339))
	}
	if len(name) > 200 {
		return nil, apperr.New(apperr.Invalid, "sourceName is longer than 200 characters")
	}
	type parsed struct {
		email      string
		registered *time.Time
		lastLogin  *time.Time
		invalid    string
	}
	rows := make([]parsed, len(req.Users))
	var emails []string
	for i, u := range req.Users {
		p := &rows[i]
		u.ExternalUserID = strings.TrimSpace(u.ExternalUserID)
		switch {
		case u.ExternalUserID == "":
			p.invalid = "externalUserId is required"
		case len(u.ExternalUserID) > 255:
			p.invalid = "externalUserId is longer than 255 characters"
		}
		if p.invalid == "" {
			if e, err := identity.NormalizeEmail(u.Email); err != nil {
				p.invalid = apperr.As(err).Message
			} else {
				p.email = e
			}
		}
		if p.invalid == "" && len(strings.TrimSpace(u.Name)) > 200 {
			p.invalid = "name is longer than 200 characters"
		}
		if p.invalid == "" {
			var err error
			if p.registered, err = parseImportDate(u.RegistrationDate); err != nil {
				p.invalid = "registrationDate: " + err.Error()
			} else if p.lastLogin, err = parseImportDate(u.LastLoginDate); err != nil {
				p.invalid = "lastLoginDate: " + err.Error()
			}
		}
		if p.invalid == "" {
			emails = append(emails, p.email)
		}
	}

	out := &ImportResult{}
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.ownedForUpdate(ctx, tx, appID)
		if err != nil {
			return err
		}
		// Connections that already share one of the addresses with this application.
		shared := map[string]*ent.AppConnection{}
		for chunk := range chunks(emails, 500) {
			cs, err := tx.AppConnection.Query().Where(appconnection.ApplicationID(app.ID), appconnection.AppEmailIn(chunk...)).All(ctx)
			if err != nil {
				return err
			}
			for _, c := range cs {
				shared[c.AppEmail] = c
			}
		}
		src, err := tx.ImportSource.Create().SetApplicationID(app.ID).SetName(name).
			SetKind(importsource.Kind(req.Kind)).SetTotal(len(req.Users)).SetCreatedAt(now).Save(ctx)
		if err != nil {
			return store.Err(err, "import source")
		}
		counts := map[string]int{}
		for _, st := range ImportStatuses {
			counts[st] = 0
		}
		creates := make([]*ent.ImportRowCreate, 0, len(req.Users))
		proposals := map[string]*ent.PendingLinkCreate{} // by address: a later row wins
		var order []string
		for i, in := range req.Users {
			p := rows[i]
			ext := strings.TrimSpace(in.ExternalUserID)
			rc := tx.ImportRow.Create().SetSourceID(src.ID).SetRow(i + 1).
				SetExternalUserID(truncate(ext, 255)).
				SetEmail(truncate(strings.TrimSpace(in.Email), 254))
			status := ImportInvalidRow
			switch c := shared[p.email]; {
			case p.invalid != "":
				rc.SetMessage(p.invalid)
			case c != nil:
				status = ImportAlreadyConnected
				upd := tx.AppConnection.UpdateOne(c).SetActive(true).SetExternalUserID(ext).SetUpdatedAt(now)
				if p.lastLogin != nil && (c.LastSessionAt == nil || p.lastLogin.After(*c.LastSessionAt)) {
					upd.SetLastSessionAt(*p.lastLogin)
				}
				if c, err = upd.Save(ctx); err != nil {
					return store.Err(err, "connection")
				}
				shared[p.email] = c
				rc.SetConnectionID(c.ID)
			default:
				status = ImportImported
				pl := tx.PendingLink.Create().SetApplicationID(app.ID).SetEmail(p.email).SetExternalUserID(ext).
					SetName(strings.TrimSpace(in.Name)).SetNillableRegisteredAt(p.registered).SetNillableLastLoginAt(p.lastLogin).
					SetImportSourceID(src.ID).SetCreatedAt(now).SetUpdatedAt(now)
				if _, seen := proposals[p.email]; !seen {
					order = append(order, p.email)
				}
				proposals[p.email] = pl
			}
			rc.SetStatus(importrow.Status(status))
			counts[status]++
			creates = append(creates, rc)
		}
		links := make([]*ent.PendingLinkCreate, 0, len(order))
		for _, e := range order {
			links = append(links, proposals[e])
		}
		for chunk := range chunks(links, 500) {
			err := tx.PendingLink.CreateBulk(chunk...).
				OnConflictColumns(pendinglink.FieldApplicationID, pendinglink.FieldEmail).
				Update(func(u *ent.PendingLinkUpsert) {
					u.UpdateExternalUserID().UpdateName().UpdateRegisteredAt().UpdateLastLoginAt().
						UpdateImportSourceID().UpdateUpdatedAt()
				}).Exec(ctx)
			if err != nil {
				return fmt.Errorf("storing pending links: %w", err)
			}
		}
		for chunk := range chunks(creates, 500) {
			saved, err := tx.ImportRow.CreateBulk(chunk...).Save(ctx)
			if err != nil {
				return fmt.Errorf("storing import rows: %w", err)
			}
			out.Rows = append(out.Rows, saved...)
		}
		if out.Source, err = tx.ImportSource.UpdateOne(src).SetCounts(counts).Save(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.ImportRun, Actor: activity.ByDeveloper, ApplicationID: app.ID,
			Details: map[string]string{"source": src.ID, "count": strconv.Itoa(len(req.Users))}, At: now})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for i := 0; i < len(s); i += n {
			if !yield(s[i:min(i+n, len(s))]) {
				return
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// parseImportDate reads the ISO-like dates of the import formats; "" is no date.
func parseImportDate(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%q is not a date like 2026-05-01 or 2026-05-01T12:00:00Z", s)
}

// ImportSources pages through the import runs of the signed-in developer's application,
// newest first.
func (s *Service) ImportSources(ctx context.Context, appID string, after *entgql.Cursor[string], first *int, before *entgql.Cursor[string], last *int) (*ent.ImportSourceConnection, error) {
	app, err := s.OwnedApplication(ctx, appID)
	if err != nil {
		return nil, err
	}
	c, err := s.DB.ImportSource.Query().Where(importsource.ApplicationID(app.ID)).
		Paginate(ctx, after, first, before, last, ent.WithImportSourceOrder(&ent.ImportSourceOrder{
			Direction: entgql.OrderDirectionDesc, Field: ent.ImportSourceOrderFieldCreatedAt}))
	if err != nil {
		return nil, pageErr(err)
	}
	return c, nil
}

// ImportSource returns one import run of appID with its rows in input order.
func (s *Service) ImportSource(ctx context.Context, appID, sourceID string) (*ImportResult, error) {
	app, err := s.OwnedApplication(ctx, appID)
	if err != nil {
		return nil, err
	}
	src, err := s.DB.ImportSource.Query().Where(importsource.ID(sourceID), importsource.ApplicationID(app.ID)).Only(ctx)
	if err != nil {
		return nil, store.Err(err, "import source")
	}
	rows, err := src.QueryRows().Order(ent.Asc(importrow.FieldRow)).All(ctx)
	if err != nil {
		return nil, err
	}
	return &ImportResult{Source: src, Rows: rows}, nil
}

// Rollback is what RollbackImport undid.
type Rollback struct {
	Source *ent.ImportSource
	// DeletedConnections were made by people accepting the run's pending links.
	DeletedConnections int
	// WithdrawnLinks are the run's pending links nobody had accepted. Refused ones count too
	// (they are kept, not deleted), so the number does not tell which addresses have an
	// account whose person refused.
	WithdrawnLinks int
}

// RollbackImport undoes import run sourceID: its pending links that are still open are
// withdrawn (refused ones are kept, so a later run cannot revive them), and the connections
// people made by accepting its links are deleted through connections.Delete (so the
// application gets user_account_deleted and the aliases are never reissued); connections the
// run only refreshed stay. A run rolls back once; again answers Conflict.
func (s *Service) RollbackImport(ctx context.Context, appID, sourceID string) (*Rollback, error) {
	now := s.now()
	var src *ent.ImportSource
	deleted, withdrawn := 0, 0
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.ownedForUpdate(ctx, tx, appID)
		if err != nil {
			return err
		}
		src, err = tx.ImportSource.Query().Where(importsource.ID(sourceID), importsource.ApplicationID(app.ID)).Only(ctx)
		if err != nil {
			return store.Err(err, "import source")
		}
		if src.RolledBackAt != nil {
			return apperr.WithReason(apperr.Conflict, "already_rolled_back", "this import was already rolled back")
		}
		conns, err := tx.AppConnection.Query().Where(appconnection.ImportSourceID(src.ID), appconnection.ApplicationID(app.ID)).
			WithUser().All(ctx)
		if err != nil {
			return err
		}
		for _, c := range conns {
			c.Edges.Application = app
			if err := connections.Delete(ctx, tx, c, connections.DeletedByDeveloper, now); err != nil {
				return err
			}
		}
		deleted = len(conns)
		refused, err := tx.PendingLink.Query().Where(pendinglink.ImportSourceID(src.ID),
			pendinglink.ApplicationID(app.ID), pendinglink.RefusedAtNotNil()).Count(ctx)
		if err != nil {
			return err
		}
		if withdrawn, err = tx.PendingLink.Delete().Where(pendinglink.ImportSourceID(src.ID),
			pendinglink.ApplicationID(app.ID), pendinglink.RefusedAtIsNil()).Exec(ctx); err != nil {
			return fmt.Errorf("withdrawing pending links: %w", err)
		}
		withdrawn += refused
		if src, err = tx.ImportSource.UpdateOne(src).SetRolledBackAt(now).Save(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.ImportRolledBack, Actor: activity.ByDeveloper, ApplicationID: app.ID,
			Details: map[string]string{"source": src.ID, "count": strconv.Itoa(deleted)}, At: now})
	})
	if err != nil {
		return nil, err
	}
	return &Rollback{Source: src, DeletedConnections: deleted, WithdrawnLinks: withdrawn}, nil
}
