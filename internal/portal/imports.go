package portal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"entgo.io/contrib/entgql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/user"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/store"
)

// MaxImportRows is the most rows one import run may hold; more answer TooLarge (413).
const MaxImportRows = 10_000

// Row statuses of an import run (spec §6.3).
const (
	ImportImported         = "imported"
	ImportAlreadyConnected = "already_connected"
	ImportNotFound         = "not_found"
	ImportNameMismatch     = "name_mismatch"
	ImportInvalidRow       = "invalid_row"
)

// ImportStatuses lists every row status, in the documented order.
var ImportStatuses = []string{ImportImported, ImportAlreadyConnected, ImportNotFound, ImportNameMismatch, ImportInvalidRow}

// ImportUser is one row of an import: the developer's own user key and the address that
// matches a LoginSign account; the rest is optional.
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

// Import links existing LoginSign accounts to the signed-in developer's application appID,
// matching each row by email (primary or verified alternative address). Per row: imported (a
// connection is created, with an alias made the way sign-in makes it), already_connected (the
// connection is refreshed and reactivated), not_found, name_mismatch (not linked) or
// invalid_row. Re-running the same rows is safe: linked rows answer already_connected and
// nothing is created twice. Every run is stored as an ImportSource with its ImportRows, in one
// transaction with the connections it creates. The result reveals nothing the developer did
// not send except the Global User ID of linked rows.
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
	if s.RelayDomain == "" {
		return nil, fmt.Errorf("portal: RelayDomain is not configured")
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
		people, err := accountsByEmail(ctx, tx, emails)
		if err != nil {
			return err
		}
		userIDs := make([]string, 0, len(people))
		for _, u := range people {
			userIDs = append(userIDs, u.ID)
		}
		existing := map[string]*ent.AppConnection{}
		for chunk := range chunks(userIDs, 500) {
			cs, err := tx.AppConnection.Query().Where(appconnection.ApplicationID(app.ID), appconnection.UserIDIn(chunk...)).All(ctx)
			if err != nil {
				return err
			}
			for _, c := range cs {
				existing[c.UserID] = c
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
		for i, in := range req.Users {
			p := rows[i]
			rc := tx.ImportRow.Create().SetSourceID(src.ID).SetRow(i + 1).
				SetExternalUserID(truncate(strings.TrimSpace(in.ExternalUserID), 255)).
				SetEmail(truncate(strings.TrimSpace(in.Email), 254))
			status := ImportInvalidRow
			switch u := people[p.email]; {
			case p.invalid != "":
				rc.SetMessage(p.invalid)
			case u == nil:
				status = ImportNotFound
			case strings.TrimSpace(in.Name) != "" && u.Name != "" && !strings.EqualFold(strings.TrimSpace(in.Name), strings.TrimSpace(u.Name)):
				status = ImportNameMismatch
				rc.SetMessage("name differs from the LoginSign profile; not linked")
			default:
				ext := strings.TrimSpace(in.ExternalUserID)
				if c := existing[u.ID]; c != nil {
					status = ImportAlreadyConnected
					upd := tx.AppConnection.UpdateOne(c).SetActive(true).SetExternalUserID(ext).SetUpdatedAt(now)
					if p.lastLogin != nil && (c.LastSessionAt == nil || p.lastLogin.After(*c.LastSessionAt)) {
						upd.SetLastSessionAt(*p.lastLogin)
					}
					if c, err = upd.Save(ctx); err != nil {
						return store.Err(err, "connection")
					}
					existing[u.ID] = c
					rc.SetConnectionID(c.ID)
				} else {
					status = ImportImported
					c, err := connections.Create(ctx, tx, u.ID, app.ID, s.RelayDomain, now, func(c *ent.AppConnectionCreate) {
						c.SetExternalUserID(ext).SetImportSourceID(src.ID)
						if p.registered != nil {
							c.SetJoinedAt(*p.registered)
						}
						if p.lastLogin != nil {
							c.SetLastSessionAt(*p.lastLogin)
						}
					})
					if err != nil {
						return err
					}
					existing[u.ID] = c
					rc.SetConnectionID(c.ID)
				}
				rc.SetGlobalID(u.GlobalID)
			}
			rc.SetStatus(importrow.Status(status))
			counts[status]++
			creates = append(creates, rc)
		}
		for chunk := range chunks(creates, 500) {
			saved, err := tx.ImportRow.CreateBulk(chunk...).Save(ctx)
			if err != nil {
				return fmt.Errorf("storing import rows: %w", err)
			}
			out.Rows = append(out.Rows, saved...)
		}
		out.Source, err = tx.ImportSource.UpdateOne(src).SetCounts(counts).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// accountsByEmail maps each address to the account that holds it as primary or verified
// alternative address (primary wins).
func accountsByEmail(ctx context.Context, tx *ent.Tx, emails []string) (map[string]*ent.User, error) {
	out := map[string]*ent.User{}
	for chunk := range chunks(emails, 500) {
		us, err := tx.User.Query().Where(user.EmailIn(chunk...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			out[u.Email] = u
		}
		alts, err := tx.UserEmail.Query().Where(useremail.EmailIn(chunk...), useremail.VerifiedAtNotNil()).WithUser().All(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range alts {
			if out[a.Email] == nil && a.Edges.User != nil {
				out[a.Email] = a.Edges.User
			}
		}
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

// ParseImportCSV reads an import CSV: columns user_id and email (required), name,
// registration_date, last_login_date. The delimiter (comma or semicolon) and the header row are
// detected; without a header the columns are in that order. More than MaxImportRows data rows
// answer TooLarge; malformed CSV answers Invalid with the line.
func ParseImportCSV(r io.Reader) ([]ImportUser, error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	first = bytes.TrimPrefix(first, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(first)) == 0 {
		return nil, apperr.New(apperr.Invalid, "the CSV is empty")
	}
	line := first
	if i := bytes.IndexAny(first, "\r\n"); i >= 0 {
		line = first[:i]
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	if bytes.Count(line, []byte(";")) > bytes.Count(line, []byte(",")) {
		cr.Comma = ';'
	}
	cols := map[string]int{"user_id": 0, "email": 1, "name": 2, "registration_date": 3, "last_login_date": 4}
	var out []ImportUser
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) || errors.Is(pe.Err, csv.ErrFieldCount)) {
				return nil, apperr.New(apperr.Invalid, "bad CSV: line %d: %v", pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("reading CSV: %w", err) // I/O, such as an oversized body: the transport decides
		}
		if n == 0 {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			if h, ok := csvHeader(rec); ok {
				_, hasID := h["user_id"]
				_, hasEmail := h["email"]
				if !hasID || !hasEmail {
					return nil, apperr.New(apperr.Invalid, "bad CSV: the header row needs user_id and email columns")
				}
				cols = h
				continue
			}
		}
		if len(out) == MaxImportRows {
			return nil, apperr.New(apperr.TooLarge, "at most %d rows per import", MaxImportRows)
		}
		get := func(k string) string {
			i, ok := cols[k]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		out = append(out, ImportUser{ExternalUserID: get("user_id"), Email: get("email"), Name: get("name"),
			RegistrationDate: get("registration_date"), LastLoginDate: get("last_login_date")})
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.Invalid, "the CSV holds no rows")
	}
	return out, nil
}

// csvHeader recognises a header row and maps column names to positions.
func csvHeader(rec []string) (map[string]int, bool) {
	aliases := map[string]string{
		"user_id": "user_id", "userid": "user_id", "external_user_id": "user_id", "externaluserid": "user_id", "id": "user_id",
		"email": "email", "e_mail": "email", "name": "name",
		"registration_date": "registration_date", "registrationdate": "registration_date",
		"last_login_date": "last_login_date", "lastlogindate": "last_login_date",
	}
	cols := map[string]int{}
	for i, c := range rec {
		k := strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(c)))
		if a, ok := aliases[k]; ok {
			if _, dup := cols[a]; !dup {
				cols[a] = i
			}
		}
	}
	if len(cols) == 0 {
		return nil, false
	}
	return cols, true
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

// RollbackImport deletes the connections that import run sourceID created and that still
// exist, each through connections.Delete (so the application gets user_account_deleted and
// the aliases are never reissued); connections the run only refreshed stay. A run rolls back
// once; again answers Conflict. It returns the run and how many connections were deleted.
func (s *Service) RollbackImport(ctx context.Context, appID, sourceID string) (*ent.ImportSource, int, error) {
	now := s.now()
	var src *ent.ImportSource
	deleted := 0
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
		src, err = tx.ImportSource.UpdateOne(src).SetRolledBackAt(now).Save(ctx)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return src, deleted, nil
}
