package portal

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/ent/predicate"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/displaytext"
	"loginsign/internal/identity"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
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
// (reactivated, externalUserId stored, lastLoginDate backfilled only when no sign-in is
// recorded, see refreshConnection). Malformed rows, a date in the future among them, are
// invalid_row. No account is looked up, so answers and timing are the same for known and
// unknown addresses, and the result echoes only what the developer sent. Re-running is safe:
// the pending link is updated (a refused one stays refused). Every run is stored as an
// ImportSource with its ImportRows, in one transaction with the links it writes; the rows of
// the owner's oldest runs give way when the rows kept would pass MaxImportRows
// (trimImportRows), their sources keeping total, counts and rollback.
func (s *Service) Import(ctx context.Context, appID string, req ImportRequest) (*ImportResult, error) {
	if err := checkImportSize(req.Users); err != nil {
		return nil, err
	}
	if req.Kind != "csv" {
		req.Kind = "json"
	}
	now := s.now()
	name, err := importSourceName(req, now)
	if err != nil {
		return nil, err
	}
	rows, emails := parseImportRows(req.Users, now)
	// The run is counted after the role check and before the transaction, which checks the
	// role again with the application locked.
	checked, err := s.Authorize(ctx, appID, team.RunImports)
	if err != nil {
		return nil, err
	}
	if err := s.Limiter.TakeForUser(ctx, s.Imports.Or(DefaultImports)); err != nil {
		return nil, err
	}
	var out *ImportResult
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The runs into one owner's applications take turns, so the totals count exactly.
		app, err := team.AuthorizeForOwnerTx(ctx, tx, s.DB.Dialect, checked, team.RunImports)
		if err != nil {
			return err
		}
		// The owner's applications stay these until tx ends: a creation or a transfer to the
		// owner locks the owner's row first (team.CheckOwnedApplications).
		owned, err := tx.Application.Query().Where(application.OwnerID(app.OwnerID)).IDs(ctx)
		if err != nil {
			return err
		}
		if err := s.trimImportRows(ctx, tx, owned, len(req.Users)); err != nil {
			return err
		}
		if out, err = writeImport(ctx, tx, importRun{app: app, name: name, req: req, rows: rows, emails: emails, now: now}); err != nil {
			return err
		}
		if err := s.checkPendingLinks(ctx, tx, owned); err != nil {
			return err
		}
		return s.trimImportRuns(ctx, tx, owned)
	})
	if err != nil {
		return nil, err
	}
	// The run's rows and source were written in tx: their edges are read after it committed
	// (GraphQL's source { application }, results { source }), which through tx failed as an
	// internal error, once per row. Each row's source is the run's, known without a query.
	if out.Source != nil {
		out.Source = out.Source.Unwrap()
	}
	for _, r := range out.Rows {
		r.Unwrap().Edges.Source = out.Source
	}
	return out, nil
}

// DefaultImports is how many import runs one developer may make per hour: each stores up to
// MaxImportRows rows. It paces the runs; DefaultMaxImportRows bounds the rows they keep.
var DefaultImports = ratelimit.Rule{Name: "imports", N: 30, Window: time.Hour}

// DefaultMaxImportRows is how many import rows (the per-row reports of import runs) the
// applications of one developer keep together: ten full runs. A free account is anyone with a
// mailbox, and without a total DefaultImports would let one store 300,000 rows an hour for
// ever. The rows are only the report of a run, read just after it; the run's source keeps its
// total and counts, and its rollback works from its pending links and connections, not from
// its rows. So an import is never refused for the total: the rows of the owner's oldest runs
// are deleted instead (trimImportRows). Counted by owner, since one developer owns up to
// team.MaxOwnedApplications applications.
const DefaultMaxImportRows = 100_000

// DefaultMaxPendingLinks is how many pending links (the people an import proposes to link,
// one per application and address, kept until the person answers, the run is rolled back or
// the application is deleted) the applications of one developer hold together. Unlike the
// rows of a run's report they are the run's working data and cannot give way, and without a
// total DefaultImports let one free account store 300,000 addresses of anyone an hour for
// ever. A million is a large service's whole user base; rolling back older runs makes room.
const DefaultMaxPendingLinks = 1_000_000

// checkPendingLinks refuses (Invalid) inside tx, after the run's links were written, when the
// pending links of the owner's applications (owned) pass MaxPendingLinks
// (DefaultMaxPendingLinks), so the run writes nothing: counting after the write counts exactly
// the addresses the run added (a re-run of the same addresses adds none). The caller holds the
// owner's row, so runs into one owner's applications take turns and the count stays exact. It
// finds the links through the (application_id, email) index and reads each one's run.
//
// It counts only the links of runs that stand (proposedByALiveRun): a rollback deletes the
// run's open links and keeps the refused ones, so that no later run revives them, and
// counting those would make the next import's answer tell the developer who refused, that is,
// which imported addresses have an account (TestPendingLinkTotalTellsNoRefusal).
func (s *Service) checkPendingLinks(ctx context.Context, tx *ent.Tx, owned []string) error {
	n, limit, err := s.pendingLinks(ctx, tx, owned)
	if err != nil || n <= limit {
		return err
	}
	return apperr.New(apperr.Invalid, "the applications of one owner hold at most %d people proposed for linking together, "+
		"and this run would make it %d: roll back older runs first", limit, n)
}

// pendingLinks counts the pending links of owned that checkPendingLinks counts, and returns
// them with MaxPendingLinks (DefaultMaxPendingLinks).
func (s *Service) pendingLinks(ctx context.Context, tx *ent.Tx, owned []string) (n, limit int, err error) {
	limit = s.MaxPendingLinks
	if limit <= 0 {
		limit = DefaultMaxPendingLinks
	}
	n, err = tx.PendingLink.Query().Where(pendinglink.ApplicationIDIn(owned...), proposedByALiveRun()).Count(ctx)
	return n, limit, err
}

// ownerTotals is team.Service.OwnerTotals: inside the transaction of an ownership transfer,
// with newOwner's row locked (team.CheckOwnedApplications), the pending links of app and of
// the applications newOwner owns must fit MaxPendingLinks (Invalid otherwise, nothing
// changes), and the totals of the other domains (OwnerTotals: license codes) must fit too.
// The import rows and spent runs kept give way as for an import into one of them
// (trimImportRows, trimImportRuns). Before, the totals were counted only where rows were
// written: a developer filled an application to their total, handed it over to a second
// account of theirs and filled another, so each account held up to 100 totals.
func (s *Service) ownerTotals(ctx context.Context, tx *ent.Tx, app *ent.Application, newOwner string) error {
	owned, err := tx.Application.Query().Where(application.OwnerID(newOwner)).IDs(ctx)
	if err != nil {
		return err
	}
	owned = append(owned, app.ID)
	// The refusal tells no count: a member whose role reads no imports learns nothing of the
	// application's runs from it.
	if n, limit, err := s.pendingLinks(ctx, tx, owned); err != nil {
		return err
	} else if n > limit {
		return apperr.New(apperr.Invalid, "the applications of one owner hold at most %d people proposed for linking together, "+
			"and with this application yours would hold more: roll back import runs first", limit)
	}
	for _, check := range s.OwnerTotals {
		if err := check(ctx, tx, app, newOwner); err != nil {
			return err
		}
	}
	if err := s.trimImportRows(ctx, tx, owned, 0); err != nil {
		return err
	}
	return s.trimImportRuns(ctx, tx, owned)
}

// trimImportRows makes room inside tx for a run of n rows into one of an owner's applications
// (owned): while the import rows kept across them and n together pass MaxImportRows
// (DefaultMaxImportRows), it deletes the rows of their oldest run that still has some, whole
// runs at a time. A run larger than the total itself keeps its rows, so the total kept is at
// most the larger of the two. The caller holds the owner's row (store.LockUser), so the runs of
// one owner take turns; the applications whose rows it deletes are held first
// (store.HoldApplications), so an application's deletion, which locks the application and
// then deletes its rows, either finishes first or waits.
func (s *Service) trimImportRows(ctx context.Context, tx *ent.Tx, owned []string, n int) error {
	limit := s.MaxImportRows
	if limit <= 0 {
		limit = DefaultMaxImportRows
	}
	kept, err := tx.ImportRow.Query().Where(importrow.HasSourceWith(importsource.ApplicationIDIn(owned...))).Count(ctx)
	if err != nil || kept+n <= limit {
		return err
	}
	if err := store.HoldApplications(ctx, tx, s.DB.Dialect, application.IDIn(owned...)); err != nil {
		return err
	}
	for kept+n > limit {
		oldest, err := tx.ImportSource.Query().Where(importsource.ApplicationIDIn(owned...), importsource.HasRows()).
			Order(ent.Asc(importsource.FieldCreatedAt), ent.Asc(importsource.FieldID)).First(ctx)
		if store.NotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		deleted, err := tx.ImportRow.Delete().Where(importrow.SourceID(oldest.ID)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("trimming import rows: %w", err)
		}
		kept -= deleted
	}
	return nil
}

// DefaultMaxImportRuns is how many spent import runs (sources whose rows were trimmed and
// that no connection and no pending link names) the applications of one developer keep
// together. Such a run is only a line in the list of runs: its rollback would change nothing.
// Without a bound DefaultImports let one free account add 720 of them a day for ever.
const DefaultMaxImportRuns = 1_000

// trimImportRunsBatch is the most spent runs one import deletes; each run adds one, so the
// spent runs kept never grow past the bound by more than the runs that spend in one go.
const trimImportRunsBatch = 100

// trimImportRuns deletes inside tx the spent runs of the owner's applications (owned) beyond
// the newest MaxImportRuns (DefaultMaxImportRuns) of them, at most trimImportRunsBatch at a
// time. A run is spent when it keeps no rows (trimImportRows took them), no connection was
// made by accepting one of its links, and it was rolled back or no pending link names it:
// then nothing reads it but the list of runs. The links a rolled-back run still names are the
// refused ones it kept so that no later run revives them; they are kept without it (nothing
// counts a link whose run is gone, proposedByALiveRun), and keeping the run for them would
// list it only when someone refused (TestImportRunsListTellsNoRefusal). The runs that still
// hold something are bounded by the connections and pending links that name them. As in
// trimImportRows, the applications are held before anything is deleted.
func (s *Service) trimImportRuns(ctx context.Context, tx *ent.Tx, owned []string) error {
	keep := s.MaxImportRuns
	if keep <= 0 {
		keep = DefaultMaxImportRuns
	}
	spent, err := tx.ImportSource.Query().
		Where(importsource.ApplicationIDIn(owned...), importsource.Not(importsource.HasRows()),
			importsource.Not(importsource.HasCreatedConnections()),
			importsource.Or(importsource.RolledBackAtNotNil(), namedByNoPendingLink())).
		Order(ent.Desc(importsource.FieldCreatedAt), ent.Desc(importsource.FieldID)).
		Offset(keep).Limit(trimImportRunsBatch).IDs(ctx)
	if err != nil || len(spent) == 0 {
		return err
	}
	if err := store.HoldApplications(ctx, tx, s.DB.Dialect, application.IDIn(owned...)); err != nil {
		return err
	}
	if _, err := tx.ImportSource.Delete().Where(importsource.IDIn(spent...)).Exec(ctx); err != nil {
		return fmt.Errorf("trimming import runs: %w", err)
	}
	return nil
}

// namedByNoPendingLink matches the import runs no pending link names (import_source_id is a
// plain column, not an edge).
func namedByNoPendingLink() predicate.ImportSource {
	return func(s *sql.Selector) {
		t := sql.Table(pendinglink.Table)
		s.Where(sql.NotExists(sql.Select(t.C(pendinglink.FieldID)).From(t).
			Where(sql.ColumnsEQ(t.C(pendinglink.FieldImportSourceID), s.C(importsource.FieldID)))))
	}
}

// proposedByALiveRun matches the pending links whose run stands: it was not rolled back, nor
// deleted since (trimImportRuns), or the link names none. The others are refused links kept
// only so that no later run revives them (RollbackImport); a run that proposes the address
// again names the link anew.
func proposedByALiveRun() predicate.PendingLink {
	return func(s *sql.Selector) {
		t := sql.Table(importsource.Table)
		s.Where(sql.Or(sql.IsNull(s.C(pendinglink.FieldImportSourceID)),
			sql.Exists(sql.Select(t.C(importsource.FieldID)).From(t).
				Where(sql.And(sql.ColumnsEQ(t.C(importsource.FieldID), s.C(pendinglink.FieldImportSourceID)),
					sql.IsNull(t.C(importsource.FieldRolledBackAt)))))))
	}
}

// checkImportSize answers TooLarge above MaxImportRows rows and Invalid for none.
func checkImportSize(users []ImportUser) error {
	if len(users) > MaxImportRows {
		return apperr.New(apperr.TooLarge, "at most %d rows per import, got %d", MaxImportRows, len(users))
	}
	if len(users) == 0 {
		return apperr.New(apperr.Invalid, "users must hold at least one row")
	}
	return nil
}

// MaxSourceName bounds an import run's source name, in characters.
const MaxSourceName = 200

// importSourceName is the run's trimmed source name, or "JSON import <time>" ("CSV …") when
// none is given; more than MaxSourceName characters answer Invalid.
func importSourceName(req ImportRequest, now time.Time) (string, error) {
	name, err := displaytext.Line("sourceName", req.SourceName)
	if err != nil {
		return "", err
	}
	if name == "" {
		name = fmt.Sprintf("%s import %s", strings.ToUpper(req.Kind), now.Format(time.RFC3339))
	}
	if utf8.RuneCountInString(name) > MaxSourceName {
		return "", apperr.New(apperr.Invalid, "sourceName is longer than %d characters", MaxSourceName)
	}
	return name, nil
}

// parsedImportRow is one input row checked: its normalized address and dates, or why it is
// invalid.
type parsedImportRow struct {
	email      string
	name       string // displaytext.Line of the row's name
	registered *time.Time
	lastLogin  *time.Time
	invalid    string
}

// parseImportRows checks every row (parseImportRow) at now and returns them in input order
// with the addresses of the valid ones.
func parseImportRows(users []ImportUser, now time.Time) (rows []parsedImportRow, emails []string) {
	rows = make([]parsedImportRow, len(users))
	for i, u := range users {
		rows[i] = parseImportRow(u, now)
		if rows[i].invalid == "" {
			emails = append(emails, rows[i].email)
		}
	}
	return rows, emails
}

// parseImportRow checks one row: externalUserId is required, at most 255 bytes of text
// without control or invisible formatting characters, one word (no space of any kind) that
// does not spell LoginSign (displaytext.SpellsLoginSign, as application names), the address must be valid, the name one
// line of at most 200 characters (displaytext.Line: the person is shown it), the dates
// readable and not after now (parseImportDate). The first problem found is the row's invalid
// message. Bytes that are not UTF-8, or a NUL, would otherwise reach PostgreSQL, which
// refuses them as an internal error. The id is the one text of a pending link the developer
// writes freely, and LoginSign shows it, inside its own sentences, on the dashboard and the
// consent page of whoever holds the address ("Knows you@… as its user …"), a person who never
// used the application: an id with spaces was a sentence there ("Your LoginSign account is
// locked, call +1 …").
func parseImportRow(u ImportUser, now time.Time) (p parsedImportRow) {
	// A message may quote what the row holds; it is stored with the row, and rows are trimmed by
	// their number, not their size: a 1 MiB date was kept as a 1.75 MiB message.
	defer func() { p.invalid = echo(p.invalid, maxRowMessage) }()
	ext := strings.TrimSpace(u.ExternalUserID)
	switch {
	case ext == "":
		p.invalid = "externalUserId is required"
		return p
	case len(ext) > 255:
		p.invalid = "externalUserId is longer than 255 bytes"
		return p
	case !utf8.ValidString(ext) || strings.IndexFunc(ext, displaytext.Hidden) >= 0:
		p.invalid = "externalUserId must be text without control or invisible formatting characters"
		return p
	case strings.IndexFunc(ext, displaytext.Blank) >= 0:
		p.invalid = "externalUserId must be one word without spaces: it is shown to the person as the application's id for them"
		return p
	case displaytext.SpellsLoginSign(ext):
		p.invalid = "externalUserId must not contain LoginSign: it is shown to the person as the application's id for them"
		return p
	}
	e, err := identity.NormalizeEmail(u.Email)
	if err != nil {
		p.invalid = apperr.As(err).Message
		return p
	}
	p.email = e
	if p.name, err = displaytext.Line("name", u.Name); err != nil {
		p.invalid = apperr.As(err).Message
		return p
	}
	if utf8.RuneCountInString(p.name) > 200 {
		p.invalid = "name is longer than 200 characters"
		return p
	}
	if p.registered, err = parseImportDate(u.RegistrationDate, now); err != nil {
		p.invalid = "registrationDate: " + err.Error()
	} else if p.lastLogin, err = parseImportDate(u.LastLoginDate, now); err != nil {
		p.invalid = "lastLoginDate: " + err.Error()
	}
	return p
}

// importRun is one import being written inside its transaction: the authorized application,
// the source name, the request and its parsed rows.
type importRun struct {
	app    *ent.Application
	name   string
	req    ImportRequest
	rows   []parsedImportRow
	emails []string
	now    time.Time
}

// writeImport stores run in tx: the ImportSource, the refreshed connections, the pending
// links, one ImportRow per input row with its counts, and the activity event.
func writeImport(ctx context.Context, tx *ent.Tx, run importRun) (*ImportResult, error) {
	shared, err := sharedConnections(ctx, tx, run.app.ID, run.emails)
	if err != nil {
		return nil, err
	}
	src, err := tx.ImportSource.Create().SetApplicationID(run.app.ID).SetName(run.name).
		SetKind(importsource.Kind(run.req.Kind)).SetTotal(len(run.req.Users)).SetCreatedAt(run.now).Save(ctx)
	if err != nil {
		return nil, store.Err(err, "import source")
	}
	w, err := classifyImportRows(ctx, tx, run, src, shared)
	if err != nil {
		return nil, err
	}
	if err := savePendingLinks(ctx, tx, w.links()); err != nil {
		return nil, err
	}
	out := &ImportResult{}
	if out.Rows, err = saveImportRows(ctx, tx, w.rows); err != nil {
		return nil, err
	}
	if out.Source, err = tx.ImportSource.UpdateOne(src).SetCounts(w.counts).Save(ctx); err != nil {
		return nil, err
	}
	err = activity.Record(ctx, tx, activity.Event{Type: activity.ImportRun, Actor: activity.ByDeveloper, ApplicationID: run.app.ID,
		Details: map[string]string{"source": src.ID, "count": strconv.Itoa(len(run.req.Users))}, At: run.now})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sharedConnections returns the connections of application appID that already share one of
// emails with it, by that address.
func sharedConnections(ctx context.Context, tx *ent.Tx, appID string, emails []string) (map[string]*ent.AppConnection, error) {
	shared := map[string]*ent.AppConnection{}
	for chunk := range chunks(emails, 500) {
		cs, err := tx.AppConnection.Query().Where(appconnection.ApplicationID(appID), appconnection.AppEmailIn(chunk...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			shared[c.AppEmail] = c
		}
	}
	return shared, nil
}

// importWrites is what one run writes: its rows in input order, the count per status, and
// the pending links it proposes, one per address (a later row wins) in first-seen order.
type importWrites struct {
	rows      []*ent.ImportRowCreate
	counts    map[string]int
	proposals map[string]*ent.PendingLinkCreate
	order     []string
}

// links returns the proposed pending links in the order their addresses first appeared.
func (w *importWrites) links() []*ent.PendingLinkCreate {
	links := make([]*ent.PendingLinkCreate, 0, len(w.order))
	for _, e := range w.order {
		links = append(links, w.proposals[e])
	}
	return links
}

// classifyImportRows gives every row its status: invalid_row with its message,
// already_connected (refreshing the connection that shares the address, see
// refreshConnection), or imported with a pending link proposed.
func classifyImportRows(ctx context.Context, tx *ent.Tx, run importRun, src *ent.ImportSource, shared map[string]*ent.AppConnection) (*importWrites, error) {
	w := &importWrites{rows: make([]*ent.ImportRowCreate, 0, len(run.req.Users)), counts: map[string]int{},
		proposals: map[string]*ent.PendingLinkCreate{}}
	for _, st := range ImportStatuses {
		w.counts[st] = 0
	}
	for i, in := range run.req.Users {
		p := run.rows[i]
		ext := strings.TrimSpace(in.ExternalUserID)
		rc := tx.ImportRow.Create().SetSourceID(src.ID).SetRow(i + 1).
			SetExternalUserID(echo(ext, 255)).
			SetEmail(echo(strings.TrimSpace(in.Email), 254))
		status := ImportInvalidRow
		switch c := shared[p.email]; {
		case p.invalid != "":
			rc.SetMessage(p.invalid)
		case c != nil:
			status = ImportAlreadyConnected
			c, err := refreshConnection(ctx, tx, c, ext, p.lastLogin, run.now)
			if err != nil {
				return nil, err
			}
			shared[p.email] = c
			rc.SetConnectionID(c.ID)
		default:
			status = ImportImported
			w.propose(p.email, tx.PendingLink.Create().SetApplicationID(run.app.ID).SetEmail(p.email).SetExternalUserID(ext).
				SetName(p.name).SetNillableRegisteredAt(p.registered).SetNillableLastLoginAt(p.lastLogin).
				SetImportSourceID(src.ID).SetCreatedAt(run.now).SetUpdatedAt(run.now))
		}
		rc.SetStatus(importrow.Status(status))
		w.counts[status]++
		w.rows = append(w.rows, rc)
	}
	return w, nil
}

// propose keeps pl as the pending link for email, replacing an earlier row's.
func (w *importWrites) propose(email string, pl *ent.PendingLinkCreate) {
	if _, seen := w.proposals[email]; !seen {
		w.order = append(w.order, email)
	}
	w.proposals[email] = pl
}

// refreshConnection reactivates connection c, stores externalUserId ext on it and backfills
// lastLogin only when the connection records no sign-in. A recorded last session is the
// person's own sign-in and is never moved by the developer's date: EndSession sends a
// back-channel logout to every application whose last session is not older than the session
// ending, so a later date (an import a minute ago would do) would have every sign-out of the
// person told to this application, and the date would show in the person's data export.
func refreshConnection(ctx context.Context, tx *ent.Tx, c *ent.AppConnection, ext string, lastLogin *time.Time, now time.Time) (*ent.AppConnection, error) {
	upd := tx.AppConnection.UpdateOne(c).SetActive(true).SetExternalUserID(ext).SetUpdatedAt(now)
	if lastLogin != nil && c.LastSessionAt == nil {
		upd.SetLastSessionAt(*lastLogin)
	}
	c, err := upd.Save(ctx)
	if err != nil {
		return nil, store.Err(err, "connection")
	}
	return c, nil
}

// savePendingLinks inserts links, updating the pending link an earlier run left for the same
// (application, address); its refusal, if any, stays.
func savePendingLinks(ctx context.Context, tx *ent.Tx, links []*ent.PendingLinkCreate) error {
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
	return nil
}

// saveImportRows inserts the run's rows and returns them in input order.
func saveImportRows(ctx context.Context, tx *ent.Tx, creates []*ent.ImportRowCreate) ([]*ent.ImportRow, error) {
	var rows []*ent.ImportRow
	for chunk := range chunks(creates, 500) {
		saved, err := tx.ImportRow.CreateBulk(chunk...).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("storing import rows: %w", err)
		}
		rows = append(rows, saved...)
	}
	return rows, nil
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

// echo is what an import row's report keeps of a value the developer sent: at most n bytes,
// cut at a character boundary, with bytes that are not UTF-8 and NULs replaced by U+FFFD, so
// that even an invalid row's echo is text every database stores.
// maxRowMessage bounds an invalid row's message in bytes.
const maxRowMessage = 512

// quoted is s quoted (%q) for a row's message, the first 64 bytes of it when it is longer.
func quoted(s string) string {
	if short := echo(s, 64); short != s {
		return strconv.Quote(short) + "…"
	}
	return strconv.Quote(s)
}

func echo(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// importDateAhead is how far past now an import's date may be and still be read (as now): a
// date without a zone is read as UTC, and a developer's local times reach UTC+14.
const importDateAhead = 24 * time.Hour

// parseImportDate reads the ISO-like dates of the import formats; "" is no date. A date more
// than importDateAhead after now is an error (a registration or sign-in that has not happened
// yet is no record of one), and one less ahead is read as now.
func parseImportDate(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			switch {
			case t.After(now.Add(importDateAhead)):
				return nil, fmt.Errorf("%s is in the future", quoted(s))
			case t.After(now):
				t = now
			}
			// An offset can carry a date written in year 0000 to year -1 in UTC, which RFC 3339
			// cannot write and SQLite, keeping a time as its text, could not read back.
			if t = t.UTC(); t.Year() < 1 {
				return nil, fmt.Errorf("%s is before the year 1", quoted(s))
			}
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%s is not a date like 2026-05-01 or 2026-05-01T12:00:00Z", quoted(s))
}

// ImportSources pages through the import runs of the signed-in developer's application,
// newest first.
func (s *Service) ImportSources(ctx context.Context, appID string, after *entgql.Cursor[string], first *int, before *entgql.Cursor[string], last *int) (*ent.ImportSourceConnection, error) {
	app, err := s.Authorize(ctx, appID, team.ReadImports)
	if err != nil {
		return nil, err
	}
	if first, err = listPage(first, last); err != nil {
		return nil, err
	}
	if err := store.CheckCursors(false, []store.CursorValue{store.TimeValue}, after, before); err != nil {
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

// ImportSource returns one import run of appID with its rows in input order; none for an
// old run whose rows were trimmed (trimImportRows), whose source still has its counts.
func (s *Service) ImportSource(ctx context.Context, appID, sourceID string) (*ImportResult, error) {
	app, err := s.Authorize(ctx, appID, team.ReadImports)
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
