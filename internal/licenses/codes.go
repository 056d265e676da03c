package licenses

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/sqlgraph"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/predicate"
	"loginsign/ent/user"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Limits of one call.
const (
	MaxGenerate = 10000
	MaxUpload   = 10000
	// insertBatch rows go into one INSERT statement on SQLite (6 parameters a row: 6,000,
	// under SQLite's 32,766).
	insertBatch = 1000
)

// GenerateInput asks for Count new codes (1 to 10,000) of a variant, optionally after a
// prefix of 1 to 16 letters and digits.
type GenerateInput struct {
	VariantID string
	Count     int
	Prefix    string
}

// Generated is the outcome of GenerateCodes.
type Generated struct {
	Variant *ent.LicenseVariant
	Codes   []string
}

// authorizeTx is Authorize inside tx (team.AuthorizeTx), for the transaction that writes: a
// member removed or demoted after an earlier check is refused here, and on PostgreSQL the
// application row stays locked until tx ends, so a removal or change of role (which lock it
// too) waits for this write instead of committing in the middle of it.
func (s *Service) authorizeTx(ctx context.Context, tx *ent.Tx, appID string, a team.Action) (*ent.Application, error) {
	app, _, err := team.AuthorizeTx(ctx, tx, s.DB.Dialect, appID, a)
	return app, err
}

// GenerateCodes creates in.Count UNUSED codes XXXX-XXXX-XXXX-XXXX from CodeAlphabet in one
// transaction. The role is checked before the Bulk limit is counted, so a caller without it
// spends nothing, and again by the transaction that inserts the codes, which also refuses
// codes past the total of the owner's applications (MaxCodes, authorizeNewCodesTx).
// It needs a recent sign-in (auth.RequireRecentSignIn), checked after the role and before
// anything is counted: codes are worth what the application sells them for, and a session
// cookie taken from the developer's browser minted 10,000 of them a request, each one shown.
func (s *Service) GenerateCodes(ctx context.Context, appID string, in GenerateInput) (*Generated, error) {
	app, err := s.Authorize(ctx, appID, team.ManageLicenses)
	if err != nil {
		return nil, err
	}
	if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
		return nil, err
	}
	if in.Count < 1 || in.Count > MaxGenerate {
		return nil, apperr.New(apperr.Invalid, "count must be between 1 and %d", MaxGenerate)
	}
	prefix := strings.ToUpper(strings.TrimSpace(in.Prefix))
	if prefix != "" && !prefixChars.MatchString(prefix) {
		return nil, apperr.New(apperr.Invalid, "prefix must be 1 to 16 letters and digits")
	}
	v, err := variantOf(ctx, s.DB.Client, app.ID, in.VariantID)
	if err != nil {
		return nil, err
	}
	if err := s.Limiter.TakeForUser(ctx, s.Bulk.Or(DefaultBulk)); err != nil {
		return nil, err
	}
	// 80 random bits per code make a collision with an existing code practically impossible;
	// if one happens anyway the whole batch is drawn again.
	for attempt := 0; ; attempt++ {
		rows := make([]codeRow, in.Count)
		seen := make(map[string]bool, in.Count)
		for i := range rows {
			c := NewCode(prefix)
			k, _ := CodeKey(c)
			if seen[k] {
				c = NewCode(prefix)
				k, _ = CodeKey(c)
			}
			seen[k] = true
			rows[i] = codeRow{id: ids.New(ids.LicenseCode), code: c, key: k}
		}
		err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
			if _, err := s.authorizeNewCodesTx(ctx, tx, app, len(rows)); err != nil {
				return err
			}
			if _, err := insertCodes(ctx, tx, s.DB.Dialect, app.ID, v.ID, s.now(), rows, false); err != nil {
				// The variant, found before the transaction, was deleted meanwhile by a team
				// member: the answer is the one a request a moment later would get.
				if isForeignKeyViolation(err) {
					return variantNotFound()
				}
				return err
			}
			return recordLicenseAction(ctx, tx, app.ID, "codes_generated", len(rows), s.now())
		})
		if err == nil {
			out := &Generated{Variant: v, Codes: make([]string, len(rows))}
			for i, r := range rows {
				out.Codes[i] = r.code
			}
			return out, nil
		}
		if !store.Conflict(err) && !isUniqueViolation(err) || attempt == 2 {
			return nil, err
		}
	}
}

type codeRow struct{ id, code, key string }

// authorizeNewCodesTx is authorizeTx for a transaction that adds n codes to application
// app (as Authorize returned it before tx), with the owner's row locked first
// (team.AuthorizeForOwnerTx): it refuses (Invalid) when the codes stored across the
// applications of app's owner and n together would pass MaxCodes (DefaultMaxCodes), so the
// call writes nothing. A member adding codes to someone else's application counts against
// the owner, who is the one whose applications hold them.
func (s *Service) authorizeNewCodesTx(ctx context.Context, tx *ent.Tx, app *ent.Application, n int) (*ent.Application, error) {
	locked, err := team.AuthorizeForOwnerTx(ctx, tx, s.DB.Dialect, app, team.ManageLicenses)
	if err != nil {
		return nil, err
	}
	return locked, s.checkCodeTotal(ctx, tx, app.OwnerID, n)
}

// TransferFits refuses (Invalid) inside the transaction of an ownership transfer of app to
// newOwner, whose row the transfer holds (team.CheckOwnedApplications), when app's codes and
// those of the applications newOwner owns together would pass MaxCodes: the total counts
// what an owner's applications hold, however they came to own them. It is one of the
// portal's OwnerTotals (team.Service.OwnerTotals).
func (s *Service) TransferFits(ctx context.Context, tx *ent.Tx, app *ent.Application, newOwner string) error {
	n, err := tx.LicenseCode.Query().Where(licensecode.ApplicationID(app.ID)).Count(ctx)
	if err != nil {
		return err
	}
	return s.checkCodeTotal(ctx, tx, newOwner, n)
}

// checkCodeTotal refuses (Invalid) inside tx when the codes of the applications owner owns
// and n more would pass MaxCodes. It counts through the (application_id, code_key) index.
func (s *Service) checkCodeTotal(ctx context.Context, tx *ent.Tx, owner string, n int) error {
	if n == 0 {
		return nil
	}
	limit := s.MaxCodes
	if limit <= 0 {
		limit = DefaultMaxCodes
	}
	have, err := tx.LicenseCode.Query().Where(licensecode.HasApplicationWith(application.OwnerID(owner))).Count(ctx)
	if err != nil {
		return err
	}
	if have+n > limit {
		return apperr.New(apperr.Invalid, "the applications of one owner hold at most %d license codes together; "+
			"they hold %d and this would add %d: delete unused codes or variants first", limit, have, n)
	}
	return nil
}

// insertCodes inserts UNUSED codes of variantID in tx with as few statements as the dialect
// allows: one INSERT … SELECT FROM unnest(…) on PostgreSQL, multi-row INSERTs of
// insertBatch rows on SQLite. With skipDuplicates a code whose key the application already
// has is left out instead of failing the transaction. It returns the number of rows inserted.
func insertCodes(ctx context.Context, tx *ent.Tx, dia, appID, variantID string, now time.Time, rows []codeRow, skipDuplicates bool) (int64, error) {
	onConflict := ""
	if skipDuplicates {
		onConflict = " ON CONFLICT (" + licensecode.FieldApplicationID + ", " + licensecode.FieldCodeKey + ") DO NOTHING"
	}
	cols := []string{licensecode.FieldID, licensecode.FieldApplicationID, licensecode.FieldVariantID, licensecode.FieldCode,
		licensecode.FieldCodeKey, licensecode.FieldState, licensecode.FieldSource, licensecode.FieldCreatedAt}
	var total int64
	if dia == dialect.Postgres {
		idArr, codeArr, keyArr := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
		for i, r := range rows {
			idArr[i], codeArr[i], keyArr[i] = r.id, r.code, r.key
		}
		q := `INSERT INTO ` + licensecode.Table + ` (` + strings.Join(cols, ", ") + `)
SELECT u.id, $1, $2, u.code, u.key, 'UNUSED', 'code', $3 FROM unnest($4::text[], $5::text[], $6::text[]) AS u(id, code, key)` + onConflict
		res, err := tx.ExecContext(ctx, q, appID, variantID, now, idArr, codeArr, keyArr)
		if err != nil {
			return 0, fmt.Errorf("inserting codes: %w", err)
		}
		return res.RowsAffected()
	}
	for start := 0; start < len(rows); start += insertBatch {
		batch := rows[start:min(start+insertBatch, len(rows))]
		q, qargs := sqliteInsert(cols, appID, variantID, now, batch)
		q += onConflict
		res, err := tx.ExecContext(ctx, q, qargs...)
		if err != nil {
			return total, fmt.Errorf("inserting codes: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// sqliteInsert writes a multi-row insert with anonymous "?" parameters, five per row.
// (Numbered parameters "?NNN" would let the shared values appear once, but SQLite resolves
// each by a linear search, which makes a 1,000-row statement quadratic.)
func sqliteInsert(cols []string, appID, variantID string, now time.Time, batch []codeRow) (string, []any) {
	var b strings.Builder
	b.Grow(64 + len(batch)*40)
	args := make([]any, 0, 6*len(batch))
	b.WriteString("INSERT INTO " + licensecode.Table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i, r := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?, 'UNUSED', 'code', ?)")
		args = append(args, r.id, appID, variantID, r.code, r.key, now)
	}
	return b.String(), args
}

func isUniqueViolation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "23505") || strings.Contains(s, "duplicate key")
}

// isForeignKeyViolation reports whether err is a foreign key violation on SQLite or
// PostgreSQL: a row written inside a transaction refers to one (a variant, a connection) that
// another request deleted after this one had checked it. It reads the driver's message, as
// ent does for its own ConstraintError, so it also covers statements run with ExecContext.
func isForeignKeyViolation(err error) bool {
	return sqlgraph.IsForeignKeyConstraintError(err)
}

// UploadRow is one uploaded code; Variant (a variant id or name) overrides the upload's
// default variant.
type UploadRow struct {
	Line    int // 1-based position in the upload, for the report
	Code    string
	Variant string
}

// InvalidRow is an uploaded row that was not imported, and why.
type InvalidRow struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Uploaded reports an upload: how many codes were created, the codes already present (in
// the application or earlier in the upload), and the rows refused.
type Uploaded struct {
	Created    int
	Duplicates []string
	Invalid    []InvalidRow
}

// UploadCodes imports developer-made codes into variantID (or each row's variant) in one
// transaction. Codes are 4 to 64 characters of [A-Za-z0-9-_], unique per application when
// compared case-insensitively without hyphens and spaces. The role is checked before the
// Bulk limit is counted and again by the transaction that inserts the codes, with the owner's
// total (GenerateCodes). It needs a recent sign-in, as GenerateCodes does: the uploaded
// codes are the thief's own, and so redeemable by them.
func (s *Service) UploadCodes(ctx context.Context, appID, variantID string, rows []UploadRow) (*Uploaded, error) {
	app, err := s.Authorize(ctx, appID, team.ManageLicenses)
	if err != nil {
		return nil, err
	}
	if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.New(apperr.Invalid, "no codes to upload")
	}
	if len(rows) > MaxUpload {
		return nil, apperr.New(apperr.Invalid, "at most %d codes per upload", MaxUpload)
	}
	refs, err := s.variantRefs(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	var def *ent.LicenseVariant
	if variantID != "" {
		if def = refs[variantID]; def == nil || def.ID != variantID {
			return nil, variantNotFound()
		}
	}
	if err := s.Limiter.TakeForUser(ctx, s.Bulk.Or(DefaultBulk)); err != nil {
		return nil, err
	}
	out := &Uploaded{Duplicates: []string{}, Invalid: []InvalidRow{}}
	todo := sortUploadRows(rows, refs, def, out)
	byVariant, err := s.newCodesByVariant(ctx, app.ID, todo, out)
	if err != nil {
		return nil, err
	}
	now := s.now()
	n := 0
	for _, rs := range byVariant {
		n += len(rs)
	}
	meanwhile := map[string]bool{} // ids of the rows a concurrent upload's codes took
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// Codes another request uploads meanwhile are skipped below, but counted here: the
		// total is checked against every code this call may add.
		if _, err := s.authorizeNewCodesTx(ctx, tx, app, n); err != nil {
			return err
		}
		for vid, rs := range byVariant {
			// A code uploaded concurrently by another request is skipped, not an error, and
			// reported as a duplicate, as it would have been a moment later.
			n, err := insertCodes(ctx, tx, s.DB.Dialect, app.ID, vid, now, rs, true)
			if isForeignKeyViolation(err) {
				// A variant of the upload, checked before the transaction (variantRefs), was
				// deleted meanwhile by a team member: the whole upload is refused as one naming
				// that variant a moment later would be, and stores nothing.
				return variantNotFound()
			}
			if err != nil {
				return err
			}
			out.Created += int(n)
			if int(n) < len(rs) {
				if err := skippedRows(ctx, tx, rs, meanwhile); err != nil {
					return err
				}
			}
		}
		return recordLicenseAction(ctx, tx, app.ID, "codes_uploaded", out.Created, now)
	})
	if err != nil {
		return nil, err
	}
	for _, p := range todo {
		if meanwhile[p.row.id] {
			out.Duplicates = append(out.Duplicates, p.row.code)
		}
	}
	return out, nil
}

// variantRefs returns the variants of application appID by id and by name key. An id always
// names the variant that has it: a variant named like another variant's id (a name is any
// line of text, and a status sync's variantName creates one too) is named there by its own id
// only. Before, a later variant's name key overwrote an earlier one's id, so such a variant
// took the uploads meant for the other (TestAVariantNamedLikeAnotherVariantsIDDoesNotTakeItsUploads).
func (s *Service) variantRefs(ctx context.Context, appID string) (map[string]*ent.LicenseVariant, error) {
	variants, err := s.DB.LicenseVariant.Query().Where(licensevariant.ApplicationID(appID)).All(ctx)
	if err != nil {
		return nil, err
	}
	refs := map[string]*ent.LicenseVariant{}
	for _, v := range variants {
		refs[v.NameKey] = v
	}
	for _, v := range variants {
		refs[v.ID] = v
	}
	return refs, nil
}

// uploadedCode is an accepted row of an upload waiting to be inserted into its variant.
type uploadedCode struct {
	row     codeRow
	variant string
}

// sortUploadRows checks every row: a malformed code or an unknown or missing variant goes to
// out.Invalid, a code repeated within the upload to out.Duplicates; the rest are returned in
// upload order, each with its variant (the row's own, else def).
func sortUploadRows(rows []UploadRow, refs map[string]*ent.LicenseVariant, def *ent.LicenseVariant, out *Uploaded) []uploadedCode {
	var todo []uploadedCode
	seen := map[string]bool{}
	for i, r := range rows {
		line := r.Line
		if line == 0 {
			line = i + 1
		}
		code, key, ok := CheckUploadedCode(r.Code)
		if !ok {
			out.Invalid = append(out.Invalid, InvalidRow{Line: line, Code: r.Code, Reason: "a code is 4 to 64 characters of A-Z, a-z, 0-9, - and _"})
			continue
		}
		v, reason := uploadVariant(r.Variant, refs, def)
		if v == nil {
			out.Invalid = append(out.Invalid, InvalidRow{Line: line, Code: code, Reason: reason})
			continue
		}
		if seen[key] {
			out.Duplicates = append(out.Duplicates, code)
			continue
		}
		seen[key] = true
		todo = append(todo, uploadedCode{codeRow{id: ids.New(ids.LicenseCode), code: code, key: key}, v.ID})
	}
	return todo
}

// uploadVariant is the variant a row names (by id, name key, or name in any case), else def;
// nil with the reason when the row names an unknown variant or neither gives one.
func uploadVariant(ref string, refs map[string]*ent.LicenseVariant, def *ent.LicenseVariant) (*ent.LicenseVariant, string) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		if def == nil {
			return nil, "no variant: give variantId or a variant column"
		}
		return def, ""
	}
	v := refs[ref]
	if v == nil {
		v = refs[strings.ToLower(ref)]
	}
	if v == nil {
		return nil, fmt.Sprintf("unknown variant %q", ref)
	}
	return v, ""
}

// skippedRows adds to skipped the ids of rows that insertCodes did not store inside tx: their
// codes were stored by another request between newCodesByVariant's check and the insert.
func skippedRows(ctx context.Context, tx *ent.Tx, rows []codeRow, skipped map[string]bool) error {
	for start := 0; start < len(rows); start += insertBatch {
		batch := rows[start:min(start+insertBatch, len(rows))]
		ids := make([]string, len(batch))
		for i, r := range batch {
			ids[i] = r.id
		}
		stored, err := tx.LicenseCode.Query().Where(licensecode.IDIn(ids...)).IDs(ctx)
		if err != nil {
			return fmt.Errorf("reading the codes stored: %w", err)
		}
		for _, id := range ids {
			skipped[id] = true
		}
		for _, id := range stored {
			delete(skipped, id)
		}
	}
	return nil
}

// newCodesByVariant leaves out the codes application appID already has (adding them to
// out.Duplicates) and groups the rest by variant id.
func (s *Service) newCodesByVariant(ctx context.Context, appID string, todo []uploadedCode, out *Uploaded) (map[string][]codeRow, error) {
	existing := map[string]bool{}
	for start := 0; start < len(todo); start += insertBatch {
		keys := make([]string, 0, insertBatch)
		for _, p := range todo[start:min(start+insertBatch, len(todo))] {
			keys = append(keys, p.row.key)
		}
		found, err := s.DB.LicenseCode.Query().Where(licensecode.ApplicationID(appID), licensecode.CodeKeyIn(keys...)).
			Select(licensecode.FieldCodeKey).Strings(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range found {
			existing[k] = true
		}
	}
	byVariant := map[string][]codeRow{}
	for _, p := range todo {
		if existing[p.row.key] {
			out.Duplicates = append(out.Duplicates, p.row.code)
			continue
		}
		byVariant[p.variant] = append(byVariant[p.variant], p.row)
	}
	return byVariant, nil
}

// CodeQuery filters a developer's code list. State is an effective state; Q matches part of
// the code (ignoring case, hyphens and spaces), the owner's Global User ID, or part of the
// owner's app-facing address.
type CodeQuery struct {
	VariantID string
	State     string
	Q         string
	First     *int
	After     *entgql.Cursor[string]
	// AfterText is After as the text of store.CursorText (REST); used when After is nil.
	AfterText string
}

// MaxPage is the largest page of a code list.
const MaxPage = 1000

// ListCodes pages through the codes of the developer's application, newest first, with
// their owners loaded (see OwnerOf).
//
// A list that may show UNUSED codes (no state, or UNUSED) needs a recent sign-in
// (auth.RequireRecentSignIn), checked after the role: an unused code's text is what a
// customer pays for and redeems, and an old session cookie carried off every one of them, a
// page of 1,000 a request. Codes someone holds (state ACTIVE or EXPIRED), which support
// looks up by the holder's address or Global User ID, redeem nothing more and need none;
// the filter, not the page's rows, decides, so the answer tells an old session nothing
// about which unused codes there are.
func (s *Service) ListCodes(ctx context.Context, appID string, in CodeQuery) (*ent.LicenseCodeConnection, error) {
	if in.After == nil {
		after, err := store.ParseCursor(in.AfterText, "cursor is not valid")
		if err != nil {
			return nil, err
		}
		in.After = after
	}
	app, err := s.Authorize(ctx, appID, team.ReadLicenses)
	if err != nil {
		return nil, err
	}
	if st := strings.ToUpper(strings.TrimSpace(in.State)); st != Active && st != Expired {
		if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
			return nil, err
		}
	}
	now := s.now()
	preds := []predicate.LicenseCode{licensecode.ApplicationID(app.ID)}
	if in.VariantID != "" {
		preds = append(preds, licensecode.VariantID(in.VariantID))
	}
	if in.State != "" {
		p, err := stateIs(in.State, now)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	if q := strings.TrimSpace(in.Q); q != "" {
		if len(q) > 254 {
			return nil, apperr.New(apperr.Invalid, "q is longer than 254 characters")
		}
		or := []predicate.LicenseCode{
			licensecode.HasLinkedConnectionWith(appconnection.Or(
				appconnection.AliasEmailContainsFold(q), appconnection.AppEmailContainsFold(q),
				appconnection.HasUserWith(user.GlobalID(strings.ToUpper(q))))),
		}
		if key, ok := CodeKey(q); ok {
			or = append(or, licensecode.CodeKeyContains(key))
		}
		preds = append(preds, licensecode.Or(or...))
	}
	first := 50
	if in.First != nil {
		first = *in.First
	}
	if first < 1 || first > MaxPage {
		return nil, apperr.New(apperr.Invalid, "limit must be between 1 and %d", MaxPage)
	}
	if err := store.CheckCursors(false, []store.CursorValue{store.TimeValue}, in.After); err != nil {
		return nil, err
	}
	conn, err := s.DB.LicenseCode.Query().Where(preds...).
		WithVariant().
		WithLinkedConnection(func(q *ent.AppConnectionQuery) { q.WithUser().WithConsent() }).
		Paginate(ctx, in.After, &first, nil, nil, ent.WithLicenseCodeOrder(&ent.LicenseCodeOrder{
			Direction: entgql.OrderDirectionDesc, Field: ent.LicenseCodeOrderFieldCreatedAt}))
	if err != nil {
		if strings.Contains(err.Error(), "cursor") {
			return nil, apperr.New(apperr.Invalid, "cursor is not valid")
		}
		return nil, err
	}
	return conn, nil
}

// Owner is who holds a code, as a developer sees them: the connection, the Global User ID,
// the display name and the app-facing address (the shared address, else the alias).
type Owner struct {
	ConnectionID string
	GlobalID     string
	Name         string
	Email        string
}

// OwnerOf derives the owner of c, nil while nobody holds it. It uses the loaded
// linked_connection (with its user) edge when present and queries otherwise.
func (s *Service) OwnerOf(ctx context.Context, c *ent.LicenseCode) (*Owner, error) {
	if c.LinkedConnectionID == nil {
		return nil, nil
	}
	conn := c.Edges.LinkedConnection
	// A connection without consent has its (empty) consent loaded all the same: only an edge
	// not loaded is read again, not once per code of a page for each such owner.
	if conn == nil || conn.Edges.User == nil || consentNotLoaded(conn) {
		var err error
		conn, err = s.DB.AppConnection.Query().Where(appconnection.ID(*c.LinkedConnectionID)).WithUser().WithConsent().Only(ctx)
		if store.NotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	// The name only where the person shares their profile with the app (connections.SharesProfile).
	name := ""
	if connections.SharesProfile(conn) {
		name = conn.Edges.User.Name
	}
	return &Owner{ConnectionID: conn.ID, GlobalID: conn.Edges.User.GlobalID, Name: name, Email: connections.AppFacingEmail(conn.AppEmail, conn.AliasEmail)}, nil
}

// consentNotLoaded reports whether conn's consent edge was not loaded (a loaded edge may be
// nil: a connection without consent).
func consentNotLoaded(conn *ent.AppConnection) bool {
	_, err := conn.Edges.ConsentOrErr()
	return store.NotLoaded(err)
}

// DeleteCode deletes an UNUSED code of the developer's application; a code that was
// redeemed answers 409 code_not_unused.
func (s *Service) DeleteCode(ctx context.Context, appID, codeID string) error {
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.ManageLicenses)
		if err != nil {
			return err
		}
		n, err := tx.LicenseCode.Delete().Where(licensecode.ID(codeID), licensecode.ApplicationID(app.ID),
			licensecode.StateEQ(licensecode.StateUNUSED)).Exec(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			exists, err := tx.LicenseCode.Query().Where(licensecode.ID(codeID), licensecode.ApplicationID(app.ID)).Exist(ctx)
			if err != nil {
				return err
			}
			if !exists {
				return apperr.New(apperr.NotFound, "license code not found")
			}
			return apperr.WithReason(apperr.Conflict, "code_not_unused", "only unused codes can be deleted")
		}
		return recordLicenseAction(ctx, tx, app.ID, "code_deleted", n, s.now())
	})
}

// recordLicenseAction writes the activity of a developer's license action on appID.
func recordLicenseAction(ctx context.Context, tx *ent.Tx, appID, action string, count int, now time.Time) error {
	return activity.Record(ctx, tx, activity.Event{Type: activity.LicenseAction, Actor: activity.ByDeveloper, ApplicationID: appID,
		Details: map[string]string{"action": action, "count": strconv.Itoa(count)}, At: now})
}
