// Package appapi is the domain of the server-to-server API an application's backend calls
// with its client credentials (spec §4): authenticating the client and listing the
// application's current logins. Status sync is in package licenses.
package appapi

import (
	"context"
	"database/sql"
	"encoding/base64"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/ent/user"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/clientauth"
	"loginsign/internal/connections"
	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// Service is the app-backend domain.
type Service struct {
	DB *store.DB
	// Clients checks client credentials (the same check as the token endpoint).
	Clients *clientauth.Service
	// StreamBatch is how many rows of the current-logins list one query reads; zero is
	// DefaultStreamBatch.
	StreamBatch int
}

// Authenticate checks client credentials with clientauth.Service.Authenticate: failed
// attempts are limited per client and per address (Unauthorized invalid_client, then
// RateLimited), successful ones by the application's quota (RateLimited).
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (auth.Client, error) {
	app, err := s.Clients.Authenticate(ctx, clientID, secret)
	if err != nil {
		return auth.Client{}, err
	}
	return auth.Client{ApplicationID: app.ID}, nil
}

// Login is one row of the current-logins list (spec §4.1).
type Login struct {
	ConnectionID string
	GlobalID     string
	Email        string // app-facing: the shared address, else the alias
	AliasEmail   string
	DisplayName  string
	LoginCount   int
	LastSession  *time.Time
	JoinedAt     time.Time
	IsActive     bool
}

// LoginsQuery pages the list; Limit 0 means everything after Cursor.
type LoginsQuery struct {
	Limit  int
	Cursor string
}

// MaxLoginsPage is the largest explicit limit.
const MaxLoginsPage = 10000

// Logins is a prepared current-logins listing: Total is every current connection of the
// application (whatever the page); Each streams the rows of the page.
type Logins struct {
	Total int
	s     *Service
	appID string
	q     LoginsQuery
	after string
}

// CurrentLogins prepares the listing of appID's current connections (deleted ones are
// gone; inactive ones are listed with IsActive false), ordered by connection id. The caller
// must be that application (auth.ClientFrom). Validation and authorization errors come from
// here, before anything is streamed.
func (s *Service) CurrentLogins(ctx context.Context, appID string, q LoginsQuery) (*Logins, error) {
	if c, ok := auth.ClientFrom(ctx); !ok {
		return nil, apperr.New(apperr.Unauthorized, "client credentials required")
	} else if c.ApplicationID != appID {
		return nil, apperr.New(apperr.Forbidden, "these credentials belong to another application")
	}
	if q.Limit < 0 || q.Limit > MaxLoginsPage {
		return nil, apperr.New(apperr.Invalid, "limit must be between 1 and %d", MaxLoginsPage)
	}
	l := &Logins{s: s, appID: appID, q: q}
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		// A connection id, as Each made it: anything else names nothing, and a NUL or bytes
		// that are not UTF-8 would reach PostgreSQL, which fails the query after the 200.
		if err != nil || !ids.Valid(ids.Connection, string(b)) {
			return nil, apperr.New(apperr.Invalid, "cursor is not valid")
		}
		l.after = string(b)
	}
	n, err := s.DB.AppConnection.Query().Where(appconnection.ApplicationID(appID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	l.Total = n
	return l, nil
}

// Each calls yield for every row of the page in connection-id order. The rows are read
// StreamBatch at a time by keyset queries, each read to its end before its rows are yielded,
// so a client reading the response slowly holds no database connection while it reads (a
// single query read as a stream held one for as long as the write timeout, up to a minute
// per request), and a million connections never sit in memory. It returns the cursor of the
// next page when a limit cut the list short, else "".
func (l *Logins) Each(ctx context.Context, yield func(*Login) error) (next string, err error) {
	got, last, err := l.s.stream(ctx, l.appID, l.after, l.q.Limit, yield)
	if err != nil || l.q.Limit == 0 || got < l.q.Limit {
		return "", err
	}
	more, err := l.s.DB.AppConnection.Query().Where(appconnection.ApplicationID(l.appID), appconnection.IDGT(last)).Exist(ctx)
	if err != nil || !more {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString([]byte(last)), nil
}

// DefaultStreamBatch is how many rows of the current-logins list one query reads when
// Service.StreamBatch is zero: a few hundred kilobytes in memory.
const DefaultStreamBatch = 500

// stream yields the connections after the connection id after (all when n is 0, else at
// most n), joined with their users, reading them batch by batch (readBatch): the database
// connection goes back to the pool before yield, which writes to the client, sees a row.
func (s *Service) stream(ctx context.Context, appID, after string, n int, yield func(*Login) error) (got int, last string, err error) {
	batch := s.StreamBatch
	if batch <= 0 {
		batch = DefaultStreamBatch
	}
	last = after
	for {
		size := batch
		if n > 0 {
			size = min(size, n-got)
		}
		rows, err := s.readBatch(ctx, appID, last, size)
		if err != nil {
			return got, last, err
		}
		for i := range rows {
			got++
			last = rows[i].ConnectionID
			if err := yield(&rows[i]); err != nil {
				return got, last, err
			}
		}
		if len(rows) < size || (n > 0 && got >= n) {
			return got, last, nil
		}
	}
}

// readBatch reads at most n connections after the connection id after, joined with their
// users, in one query read to its end.
func (s *Service) readBatch(ctx context.Context, appID, after string, n int) ([]Login, error) {
	d := entsql.Dialect(s.DB.Dialect)
	c, u, k := d.Table(appconnection.Table).As("c"), d.Table(user.Table).As("u"), d.Table(consent.Table).As("k")
	// displayName only where the person granted the app the profile scope.
	granted, _ := d.Select(k.C(consent.FieldConnectionID)).From(k).Where(entsql.P(func(b *entsql.Builder) {
		b.WriteString(k.C(consent.FieldConnectionID) + " = " + c.C(appconnection.FieldID) + " AND " +
			connections.ProfileScopeSQL(k.C(consent.FieldScopes)))
	})).Query()
	sharedName := "CASE WHEN EXISTS (" + granted + ") THEN " + u.C(user.FieldName) + " END"
	sel := d.Select(
		c.C(appconnection.FieldID), u.C(user.FieldGlobalID), c.C(appconnection.FieldAppEmail), c.C(appconnection.FieldAliasEmail),
		sharedName, c.C(appconnection.FieldLoginCount), c.C(appconnection.FieldLastSessionAt),
		c.C(appconnection.FieldJoinedAt), c.C(appconnection.FieldActive)).
		From(c).Join(u).On(c.C(appconnection.FieldUserID), u.C(user.FieldID))
	where := entsql.EQ(c.C(appconnection.FieldApplicationID), appID)
	if after != "" {
		where = entsql.And(where, entsql.GT(c.C(appconnection.FieldID), after))
	}
	sel.Where(where).OrderBy(c.C(appconnection.FieldID)).Limit(n)
	query, args := sel.Query()
	rows, err := s.DB.SQL.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out            = make([]Login, 0, min(n, DefaultStreamBatch))
		appEmail, name sql.NullString
		lastSession    sql.NullTime
	)
	for rows.Next() {
		var l Login
		if err := rows.Scan(&l.ConnectionID, &l.GlobalID, &appEmail, &l.AliasEmail, &name, &l.LoginCount, &lastSession, &l.JoinedAt, &l.IsActive); err != nil {
			return nil, err
		}
		l.Email = connections.AppFacingEmail(appEmail.String, l.AliasEmail)
		l.DisplayName = name.String
		if lastSession.Valid {
			t := lastSession.Time
			l.LastSession = &t
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
