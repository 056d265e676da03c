package portal

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/ent/predicate"
	"loginsign/ent/user"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
	"loginsign/internal/webhooks"
)

// UserFilter narrows an application's connected users. Every set field must hold.
type UserFilter struct {
	Active  *bool
	Blocked *bool
	// Muted matches the list's emailMuted: the person muted relay mail or the developer turned
	// forwarding off.
	Muted  *bool
	Region *string // exact, case-insensitive
	// Joined and last-session ranges: After is inclusive, Before exclusive.
	JoinedAfter, JoinedBefore           *time.Time
	LastSessionAfter, LastSessionBefore *time.Time
	// Search matches, case-insensitively, part of the Global User ID, the display name, the
	// shared address or the alias.
	Search string
}

// MaxSearchLength bounds UserFilter.Search.
const MaxSearchLength = 100

// MaxRegionLength bounds UserFilter.Region: no stored region is longer (ent/schema).
const MaxRegionLength = 100

func (f *UserFilter) predicates(appID string) ([]predicate.AppConnection, error) {
	if f == nil {
		return nil, nil
	}
	var ps []predicate.AppConnection
	if f.Active != nil {
		ps = append(ps, appconnection.Active(*f.Active))
	}
	if f.Blocked != nil {
		ps = append(ps, appconnection.Blocked(*f.Blocked))
	}
	if f.Muted != nil {
		muted := appconnection.Or(appconnection.EmailMuted(true), appconnection.IsForwarding(false))
		if *f.Muted {
			ps = append(ps, muted)
		} else {
			ps = append(ps, appconnection.EmailMuted(false), appconnection.IsForwarding(true))
		}
	}
	if f.Region != nil {
		r := strings.TrimSpace(*f.Region)
		if utf8.RuneCountInString(r) > MaxRegionLength {
			return nil, apperr.New(apperr.Invalid, "region is longer than %d characters", MaxRegionLength)
		}
		ps = append(ps, appconnection.RegionEqualFold(r))
	}
	if f.JoinedAfter != nil {
		ps = append(ps, appconnection.JoinedAtGTE(f.JoinedAfter.UTC()))
	}
	if f.JoinedBefore != nil {
		ps = append(ps, appconnection.JoinedAtLT(f.JoinedBefore.UTC()))
	}
	if f.LastSessionAfter != nil {
		ps = append(ps, appconnection.LastSessionAtGTE(f.LastSessionAfter.UTC()))
	}
	if f.LastSessionBefore != nil {
		ps = append(ps, appconnection.LastSessionAtLT(f.LastSessionBefore.UTC()))
	}
	if q := strings.TrimSpace(f.Search); q != "" {
		if len(q) > MaxSearchLength {
			return nil, apperr.New(apperr.Invalid, "search is longer than %d characters", MaxSearchLength)
		}
		ps = append(ps, searchPredicate(appID, q))
	}
	return ps, nil
}

// searchPredicate matches q inside the alias, the shared address, the Global User ID or the
// display name of appID's connections, ignoring case. Addresses are stored lower-case and
// Global User IDs upper-case, so plain LIKE does for them (several times faster than ILIKE on
// PostgreSQL); only the name needs LOWER. On PostgreSQL a term of three or more characters is
// asked as a UNION of one lookup per column, each of which the trigram indexes of
// EnsureSearchIndexes answer; an OR across the columns and the people subquery would read every
// connection of the application. Every lookup stays inside appID: the person and the consent
// are looked up for the application's connections (EXISTS on their keys), never searched for
// among everyone's, so a search reads no more for the people of other applications (before, a
// term matching the relay domain read every alias LoginSign ever issued, and the Global User
// ID and the name every account, for an application of three people).
func searchPredicate(appID, q string) predicate.AppConnection {
	lower, upper := likeContains(strings.ToLower(q)), likeContains(strings.ToUpper(q))
	like := func(expr string, pattern string) *sql.Predicate {
		return sql.P(func(b *sql.Builder) {
			b.WriteString(expr).WriteString(" LIKE ").Arg(pattern).WriteString(" ESCAPE '\\'")
		})
	}
	return func(s *sql.Selector) {
		b := sql.Dialect(s.Dialect())
		// person is "the connection's person (userCol) matches": a lookup by key for each
		// connection, not a search of every account.
		person := func(userCol string, match func(t *sql.SelectTable) *sql.Predicate) *sql.Predicate {
			t := b.Table(user.Table)
			return sql.Exists(b.Select(t.C(user.FieldID)).From(t).Where(sql.And(sql.ColumnsEQ(t.C(user.FieldID), userCol), match(t))))
		}
		byGlobalID := func(userCol string) *sql.Predicate {
			return person(userCol, func(t *sql.SelectTable) *sql.Predicate { return like(t.C(user.FieldGlobalID), upper) })
		}
		// The name is searchable only where the person shares it (the profile scope): a search
		// must not reveal what the list hides.
		nameMatch := func(userCol, idCol string) *sql.Predicate {
			c := b.Table(consent.Table)
			sharingProfile := sql.Exists(b.Select(c.C(consent.FieldID)).From(c).Where(sql.And(
				sql.ColumnsEQ(c.C(consent.FieldConnectionID), idCol),
				sql.P(func(pb *sql.Builder) { pb.WriteString(connections.ProfileScopeSQL(c.C(consent.FieldScopes))) }))))
			return sql.And(person(userCol, func(t *sql.SelectTable) *sql.Predicate {
				return like("LOWER("+t.C(user.FieldName)+")", lower)
			}), sharingProfile)
		}
		if s.Dialect() != dialect.Postgres || len([]rune(q)) < 3 {
			s.Where(sql.Or(
				like(s.C(appconnection.FieldAliasEmail), lower),
				like(s.C(appconnection.FieldAppEmail), lower),
				byGlobalID(s.C(appconnection.FieldUserID)),
				nameMatch(s.C(appconnection.FieldUserID), s.C(appconnection.FieldID)),
			))
			return
		}
		branch := func(where func(t *sql.SelectTable) *sql.Predicate) *sql.Selector {
			t := b.Table(appconnection.Table)
			return b.Select(t.C(appconnection.FieldID)).From(t).Where(sql.And(sql.EQ(t.C(appconnection.FieldApplicationID), appID), where(t)))
		}
		matches := branch(func(t *sql.SelectTable) *sql.Predicate { return like(t.C(appconnection.FieldAliasEmail), lower) }).
			Union(branch(func(t *sql.SelectTable) *sql.Predicate { return like(t.C(appconnection.FieldAppEmail), lower) })).
			Union(branch(func(t *sql.SelectTable) *sql.Predicate { return byGlobalID(t.C(appconnection.FieldUserID)) })).
			Union(branch(func(t *sql.SelectTable) *sql.Predicate {
				return nameMatch(t.C(appconnection.FieldUserID), t.C(appconnection.FieldID))
			}))
		s.Where(sql.In(s.C(appconnection.FieldID), matches))
	}
}

// likeContains is the LIKE pattern of "contains s", with LIKE's metacharacters escaped.
func likeContains(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
}

// UserPage asks for one page of connected users: Relay arguments, ordering and filters.
type UserPage struct {
	After, Before *entgql.Cursor[string]
	First, Last   *int
	OrderBy       []*ent.AppConnectionOrder
	Where         *ent.AppConnectionWhereInput
	Filter        *UserFilter
}

// MaxUserPage is the largest page a caller may ask for with first or last, and the page a
// list asked for with neither answers.
const MaxUserPage = 1000

// DefaultUserOrder lists the newest connections first.
var defaultUserOrder = []*ent.AppConnectionOrder{{Direction: entgql.OrderDirectionDesc, Field: ent.AppConnectionOrderFieldJoinedAt}}

// ConnectedUsers pages through the people connected to the signed-in developer's application
// appID, with totalCount over the whole filtered list. Without first/last it returns the first
// MaxUserPage connections, with the cursor of the next page in its pageInfo. Each connection
// comes with its person loaded, for the Global User ID and display name.
func (s *Service) ConnectedUsers(ctx context.Context, appID string, p UserPage) (*ent.AppConnectionConnection, error) {
	app, err := s.Authorize(ctx, appID, team.ReadUsers)
	if err != nil {
		return nil, err
	}
	for _, n := range []*int{p.First, p.Last} {
		if n != nil && (*n < 0 || *n > MaxUserPage) {
			return nil, apperr.New(apperr.Invalid, "page size must be between 0 and %d", MaxUserPage)
		}
	}
	if p.First == nil && p.Last == nil {
		// One page, never the whole list: the shown address and Global User ID of every person
		// at once is what ExportUsers hands over, after its own checks (the export role, a
		// recent sign-in, a budget, an activity entry), and ReadUsers asks for none of them.
		page := MaxUserPage
		p.First = &page
	}
	ps, err := p.Filter.predicates(app.ID)
	if err != nil {
		return nil, err
	}
	order := p.OrderBy
	if len(order) == 0 {
		order = defaultUserOrder
	}
	if err := checkCursors(order, p.After, p.Before); err != nil {
		return nil, err
	}
	if err := repeatedOrder(order, func(o *ent.AppConnectionOrder) *ent.AppConnectionOrderField { return o.Field },
		func(o *ent.AppConnectionOrder) entgql.OrderDirection { return o.Direction }); err != nil {
		return nil, err
	}
	q := s.DB.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).Where(ps...)
	bounds := cursorBounds(order, p.After, p.Before)
	conn, err := q.Clone().Where(bounds...).WithUser().WithConsent().Paginate(ctx, p.After, p.First, p.Before, p.Last,
		ent.WithAppConnectionOrder(order), ent.WithAppConnectionFilter(p.Where.Filter))
	if err != nil {
		return nil, pageErr(err)
	}
	if len(bounds) > 0 {
		// Paginate counted only the rows past the cursor; totalCount is the whole filtered list.
		filtered, err := p.Where.Filter(q)
		if err != nil {
			return nil, pageErr(err)
		}
		if conn.TotalCount, err = filtered.Count(ctx); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// checkCursors refuses cursors that the list in order did not give out (store.CheckCursors).
func checkCursors(order []*ent.AppConnectionOrder, cursors ...*entgql.Cursor[string]) error {
	kinds := make([]store.CursorValue, len(order))
	for i, o := range order {
		// By name: GraphQL's orders hold copies of ent's fields, not the fields themselves.
		switch o.Field.String() {
		case ent.AppConnectionOrderFieldLoginCount.String():
			kinds[i] = store.IntValue
		case ent.AppConnectionOrderFieldLastSessionAt.String():
			kinds[i] = store.NullableTimeValue
		default:
			kinds[i] = store.TimeValue
		}
	}
	return store.CheckCursors(true, kinds, cursors...)
}

// cursorBounds restates a cursor on the first ordering field as a plain range (joined_at <=
// v after a cursor of a descending list, and so on). entgql's keyset predicate is an OR
// (a < v OR a = v AND id > w) that no index can seek on; this redundant bound lets a deep page
// start at the cursor in the (application_id, field, id) index instead of scanning up to it.
func cursorBounds(order []*ent.AppConnectionOrder, after, before *entgql.Cursor[string]) []predicate.AppConnection {
	if len(order) == 0 {
		return nil
	}
	var col string
	switch order[0].Field.String() { // by name, as checkCursors
	case ent.AppConnectionOrderFieldJoinedAt.String():
		col = appconnection.FieldJoinedAt
	case ent.AppConnectionOrderFieldLoginCount.String():
		col = appconnection.FieldLoginCount
	case ent.AppConnectionOrderFieldCreatedAt.String():
		col = appconnection.FieldCreatedAt
	default:
		return nil // nullable or unindexed: the keyset predicate alone is right
	}
	var ps []predicate.AppConnection
	for _, c := range []struct {
		cur     *entgql.Cursor[string]
		forward bool
	}{{after, true}, {before, false}} {
		if c.cur == nil {
			continue
		}
		v := c.cur.Value
		if vs, ok := v.([]any); ok && len(vs) > 0 {
			v = vs[0]
		}
		if v == nil {
			continue
		}
		if (order[0].Direction == entgql.OrderDirectionDesc) == c.forward {
			ps = append(ps, predicate.AppConnection(sql.FieldLTE(col, v)))
		} else {
			ps = append(ps, predicate.AppConnection(sql.FieldGTE(col, v)))
		}
	}
	return ps
}

// pageErr shows as Invalid the refusals of a page's arguments that the domain's own checks
// leave to ent's paging, told by their type: both first and last (entgql's *gqlerror.Error,
// never a database's) and a where input that sets nothing, at any depth
// (store.EmptyFilter); a domain error passes as it is. Cursors ent could refuse were refused
// before (store.CheckCursors), and so were repeated orders (repeatedOrder). Anything else,
// the database's errors among them, is returned as it is (internal error, logged) whatever
// its text: matched by keywords ("order", "last", "cursor", …), a database error naming
// last_session_at or an ORDER BY reached the developer whole as invalid_request.
func pageErr(err error) error {
	var domain *apperr.Error
	var paging *gqlerror.Error
	switch {
	case errors.As(err, &domain):
		return err
	case errors.As(err, &paging), store.EmptyFilter(err):
		return apperr.New(apperr.Invalid, "%s", err.Error())
	}
	return err
}

// repeatedOrder refuses (Invalid), as ent's pager does and in its words, an order whose field
// is the same as the one before it; field and dir read an order's.
func repeatedOrder[O any, F comparable](orders []O, field func(O) F, dir func(O) entgql.OrderDirection) error {
	for i := 1; i < len(orders); i++ {
		if field(orders[i]) == field(orders[i-1]) {
			return apperr.New(apperr.Invalid, "duplicate order direction %q", dir(orders[i]))
		}
	}
	return nil
}

// Connection returns the connection connID of the signed-in developer's application appID,
// with its person and application loaded; NotFound for anything else.
func (s *Service) Connection(ctx context.Context, appID, connID string) (*ent.AppConnection, error) {
	app, err := s.Authorize(ctx, appID, team.ReadUsers)
	if err != nil {
		return nil, err
	}
	return connectionOf(ctx, s.DB.Client, app, connID)
}

func connectionOf(ctx context.Context, c *ent.Client, app *ent.Application, connID string) (*ent.AppConnection, error) {
	conn, err := c.AppConnection.Query().
		Where(appconnection.ID(connID), appconnection.ApplicationID(app.ID)).
		WithUser().WithConsent().Only(ctx)
	if err != nil {
		return nil, store.Err(err, "connection")
	}
	conn.Edges.Application = app
	return conn, nil
}

// SharedName is the person's display name as the developer's lists show it: only when the
// person granted the application the profile scope, else "" (the same rule as /api/user and
// the id_token). conn must have its User and Consent edges loaded.
func SharedName(conn *ent.AppConnection) string {
	if conn.Edges.User == nil || !connections.SharesProfile(conn) {
		return ""
	}
	return conn.Edges.User.Name
}

// ConnectionPerson is what a list shows of the person behind a connection besides the
// connection's own columns: their account and the consent they gave the application (nil
// when none).
type ConnectionPerson struct {
	User    *ent.User
	Consent *ent.Consent
}

// Name is SharedName of conn with p's account and consent.
func (p ConnectionPerson) Name(conn *ent.AppConnection) string {
	view := *conn
	view.Edges.User, view.Edges.Consent = p.User, p.Consent
	return SharedName(&view)
}

// People reads the persons behind conns, by connection id, in two statements whatever their
// number: the lists that show each connection's Global User ID or name (node(ids:), a
// person's own connections) asked Person and VisibleName once per row, up to three
// statements each. Only callers that may see conns reach it; a connection whose account is
// gone is left out (Person answers NotFound for it).
func (s *Service) People(ctx context.Context, conns []*ent.AppConnection) (map[string]ConnectionPerson, error) {
	out := make(map[string]ConnectionPerson, len(conns))
	if len(conns) == 0 {
		return out, nil
	}
	var userIDs, connIDs []string
	for _, c := range conns {
		userIDs, connIDs = append(userIDs, c.UserID), append(connIDs, c.ID)
	}
	users, err := s.DB.User.Query().Where(user.IDIn(userIDs...)).All(ctx)
	if err != nil {
		return nil, err
	}
	consents, err := s.DB.Consent.Query().Where(consent.ConnectionIDIn(connIDs...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byUser := make(map[string]*ent.User, len(users))
	for _, u := range users {
		byUser[u.ID] = u
	}
	byConn := make(map[string]*ent.Consent, len(consents))
	for _, c := range consents {
		byConn[c.ConnectionID] = c
	}
	for _, c := range conns {
		if u := byUser[c.UserID]; u != nil {
			out[c.ID] = ConnectionPerson{User: u, Consent: byConn[c.ID]}
		}
	}
	return out, nil
}

// SharedEmail is what the developer's list shows as email: the shared address, or "-".
func SharedEmail(conn *ent.AppConnection) string {
	if conn.AppEmail == "" {
		return "-"
	}
	return conn.AppEmail
}

// EmailMuted is the list's emailMuted: relay mail does not reach the person, because they
// muted it (email_muted) or the developer turned forwarding off (isForwarding=false). The two
// flags stay apart so that neither side can undo the other's choice.
func EmailMuted(conn *ent.AppConnection) bool { return conn.EmailMuted || !conn.IsForwarding }

// ConnectionPatch changes a connection. At least one field must be set.
type ConnectionPatch struct {
	// IsForwarding is the developer's switch for relaying alias mail to the person.
	IsForwarding *bool
	// AppEmail is the developer's own record of the person's address, stored as
	// developer_email: any well-formed address, "" clears it. It is never compared with the
	// person's addresses (the answer would tell which address is theirs) and never changes the
	// address LoginSign shows the app or forwards to: only the person chooses that.
	AppEmail *string
}

// DefaultConnectionEdits is how many changes of one connection (isForwarding, appEmail) its
// application's team makes in an hour. Each writes connection_edited into the person's own
// activity log, and the developer's budget for all their changes (team.DefaultWrites, 1,000
// an hour) let one developer alternating a value write 24,000 events a day into one person's
// log, more than the person's data export holds (dataexport.DefaultMaxActivity), pushing
// their real events out of it. Sending the values a connection already has is not counted.
var DefaultConnectionEdits = ratelimit.Rule{Name: "connection-edits", N: 60, Window: time.Hour,
	Message: "too many changes of this connection; try again in %d s"}

// UpdateConnection applies p to connection connID of the signed-in developer's application.
// The activity log gets connection_edited (the fields given) only when a value changed, and
// only such a change counts, against the connection's ConnectionEdits and then the
// developer's writes (team.TakeWrite): past either, RateLimited and nothing written.
func (s *Service) UpdateConnection(ctx context.Context, appID, connID string, p ConnectionPatch) (*ent.AppConnection, error) {
	if p.IsForwarding == nil && p.AppEmail == nil {
		return nil, apperr.New(apperr.Invalid, "give isForwarding and/or appEmail")
	}
	record := ""
	if p.AppEmail != nil {
		if addr := strings.TrimSpace(*p.AppEmail); addr != "" {
			var err error
			if record, err = identity.NormalizeEmail(addr); err != nil {
				return nil, err
			}
		}
	}
	var out *ent.AppConnection
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.EditConnections)
		if err != nil {
			return err
		}
		if s.DB.Dialect == dialect.Postgres {
			// Updates of one connection take turns, so each compares with the values it replaces
			// (SQLite transactions already take turns).
			if _, err := tx.AppConnection.Query().Where(appconnection.ID(connID), appconnection.ApplicationID(app.ID)).
				ForUpdate().IDs(ctx); err != nil {
				return err
			}
		}
		conn, err := connectionOf(ctx, tx.Client(), app, connID)
		if err != nil {
			return err
		}
		if p.IsForwarding != nil && !*p.IsForwarding && conn.IsForwarding {
			// Turning forwarding off needs a recent sign-in, checked after the role and before
			// anything is written or counted, as a person's own muting does
			// (account.SetConnectionMuted): it stops the relay handing the application's mail to
			// the person. From an old session cookie (a copy taken from a browser) a thief
			// silenced, one connection after another, the application's notices to its people
			// (sign-in codes, "your password changed") before using what else they held. Turning
			// it back on, sending the value it already has, and appEmail need none.
			if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
				return err
			}
		}
		upd := tx.AppConnection.UpdateOne(conn).SetUpdatedAt(s.now())
		if p.IsForwarding != nil {
			upd.SetIsForwarding(*p.IsForwarding)
		}
		if p.AppEmail != nil {
			upd.SetDeveloperEmail(record)
		}
		saved, err := upd.Save(ctx)
		if err != nil {
			return store.Err(err, "connection")
		}
		saved.Edges = conn.Edges
		out = saved
		if saved.IsForwarding == conn.IsForwarding && saved.DeveloperEmail == conn.DeveloperEmail {
			// Nothing changed: a repeated update writes no event, so an application cannot push
			// the person's real events out of their log.
			return nil
		}
		if s.Limiter != nil {
			if err := s.Limiter.Take(ctx, s.ConnectionEdits.Or(DefaultConnectionEdits), conn.ID); err != nil {
				return err
			}
		}
		if err := team.TakeWrite(ctx, s.Limiter, s.Writes); err != nil {
			return err
		}
		var fields []string
		if p.IsForwarding != nil {
			fields = append(fields, "isForwarding")
		}
		if p.AppEmail != nil {
			fields = append(fields, "appEmail")
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.ConnectionEdited, Actor: activity.ByDeveloper,
			UserID: conn.UserID, ApplicationID: app.ID, ConnectionID: conn.ID,
			Details: map[string]string{"fields": activity.Fields(fields...)}, At: s.now()})
	})
	if err != nil {
		return nil, err
	}
	// out was written in tx and its edges are read after it committed (GraphQL's
	// editAppConnection { connection { licenses } }): through tx they failed as an internal error.
	// The person and the consent loaded with it (connectionOf, through tx) are unwrapped too:
	// connection { consent { connection } } read the consent's edge through tx. The consent's
	// connection is out itself, known without a query.
	out = out.Unwrap()
	if u := out.Edges.User; u != nil {
		u.Unwrap()
	}
	if c := out.Edges.Consent; c != nil {
		c.Unwrap().Edges.Connection = out
	}
	return out, nil
}

// SyncEmail is the developer's email-sync API: it asks the person behind connection connID to
// make email their LoginSign primary address (identity.RequestEmailChange). Nothing changes
// until the person confirms from the new mailbox while signed in; the answer is pending=true
// whether or not the address belongs to anyone, or changed=false without pending when it
// already is the primary address and the application already sees it (a relay alias hides it,
// so then the answer is pending=true as for any address: it must not confirm a guess). Invalid for a malformed address, NotFound for an unknown
// application or connection, also one that ended while the request was made.
func (s *Service) SyncEmail(ctx context.Context, appID, connID, email string) (pending bool, err error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return false, err
	}
	if _, err := s.Authorize(ctx, appID, team.EditConnections); err != nil {
		return false, err
	}
	conn, err := s.Connection(ctx, appID, connID)
	if err != nil {
		return false, err
	}
	if strings.TrimSpace(email) == "" {
		return false, apperr.New(apperr.Invalid, "email is required")
	}
	return s.Identity.RequestEmailChange(ctx, conn.UserID, email, identity.EmailChangeRequester{
		ApplicationID: conn.ApplicationID, ApplicationName: conn.Edges.Application.Name, Actor: uid, ConnectionID: conn.ID,
		Shown: conn.AppEmail, Check: func(ctx context.Context, tx *ent.Tx) error {
			app, err := s.authorizeTx(ctx, tx, appID, team.EditConnections)
			if err != nil {
				return err
			}
			// The connection is read again with the application locked: an ending of it (the
			// person removing the app takes the application's key share, the developer and the
			// application's deletion lock it) either committed before, and the request is
			// NotFound, or waits for this request and then supersedes it
			// (connections.Delete): no proposal outlives the connection it came through.
			held, err := tx.AppConnection.Query().Where(appconnection.ID(conn.ID), appconnection.ApplicationID(app.ID)).Exist(ctx)
			if err != nil {
				return err
			}
			if !held {
				return apperr.New(apperr.NotFound, "connection not found")
			}
			return nil
		}})
}

// DeleteConnection ends connection connID for good (the developer closed the account on their
// platform): tokens revoked, licenses expired, alias never reissued, user_account_deleted
// queued. See connections.Delete. It needs a recent sign-in (Unauthorized,
// reauthentication_required), checked after the role check: it cannot be undone, and with a
// stolen session cookie, one call per row of the users list (which needs none) ended every
// connection of the application, what DeleteApplication refuses to such a session, and told
// the application's backend that each of its people closed their account.
func (s *Service) DeleteConnection(ctx context.Context, appID, connID string) error {
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.EditConnections)
		if err != nil {
			return err
		}
		if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
			return err
		}
		conn, err := connectionOf(ctx, tx.Client(), app, connID)
		if err != nil {
			return err
		}
		return connections.Delete(ctx, tx, conn, connections.DeletedByDeveloper, s.now())
	})
}

// EmailSyncCheck is the answer of the email-sync API test.
type EmailSyncCheck struct {
	Endpoint          string
	WebhookConfigured bool
	Events            []string
}

// TestEmailSync checks the email-sync integration of appID: the endpoint to call and whether a
// webhook will receive email_changed.
func (s *Service) TestEmailSync(ctx context.Context, appID string) (*EmailSyncCheck, error) {
	app, err := s.Authorize(ctx, appID, team.EditSettings)
	if err != nil {
		return nil, err
	}
	return &EmailSyncCheck{
		Endpoint:          "PATCH /api/developer/applications/" + app.ID + "/users/:connectionId/email",
		WebhookConfigured: app.WebhookURL != "" && app.WebhookDisabledAt == nil,
		Events:            []string{webhooks.TypeEmailChanged},
	}, nil
}

// CurrentLoginsCheck is the answer of the current-logins sync API test.
type CurrentLoginsCheck struct {
	Endpoint string
	Auth     string
	Total    int
}

// TestCurrentLoginsSync describes the current-logins endpoint of appID and how many
// connections it would list now.
func (s *Service) TestCurrentLoginsSync(ctx context.Context, appID string) (*CurrentLoginsCheck, error) {
	app, err := s.Authorize(ctx, appID, team.EditSettings)
	if err != nil {
		return nil, err
	}
	n, err := s.DB.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	return &CurrentLoginsCheck{Endpoint: "GET /api/applications/" + app.ID + "/users", Auth: "basic", Total: n}, nil
}

// UsersPage asks for one page of the users list in the words of a transport that is not
// GraphQL: After is the text of a cursor an earlier page gave out, Order a field (joined,
// lastSession or sessions) with "-" first for descending (default -joined). The domain turns
// it into ent's paging arguments (see page).
type UsersPage struct {
	First  *int // nil: MaxUserPage
	After  string
	Order  string
	Filter *UserFilter
}

// userOrders are the values of UsersPage.Order.
var userOrders = map[string]*ent.AppConnectionOrderField{
	"joined": ent.AppConnectionOrderFieldJoinedAt, "lastSession": ent.AppConnectionOrderFieldLastSessionAt,
	"sessions": ent.AppConnectionOrderFieldLoginCount,
}

// page turns p into the Relay arguments ConnectedUsers takes; a cursor no list gave out or
// an unknown order is Invalid.
func (p UsersPage) page() (UserPage, error) {
	out := UserPage{First: p.First, Filter: p.Filter}
	after, err := store.ParseCursor(p.After, "cursor is not one this list gave out")
	if err != nil {
		return out, err
	}
	out.After = after
	if v := p.Order; v != "" {
		dir := entgql.OrderDirectionAsc
		if name, ok := strings.CutPrefix(v, "-"); ok {
			v, dir = name, entgql.OrderDirectionDesc
		}
		field, ok := userOrders[v]
		if !ok {
			return out, apperr.New(apperr.Invalid, "order must be joined, lastSession or sessions, with - for descending")
		}
		out.OrderBy = []*ent.AppConnectionOrder{{Direction: dir, Field: field}}
	}
	return out, nil
}

// ListUsers is ConnectedUsers for a UsersPage; the next page's cursor text is
// store.CursorText(conn.PageInfo.EndCursor).
func (s *Service) ListUsers(ctx context.Context, appID string, p UsersPage) (*ent.AppConnectionConnection, error) {
	up, err := p.page()
	if err != nil {
		return nil, err
	}
	return s.ConnectedUsers(ctx, appID, up)
}
