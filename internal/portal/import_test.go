package portal_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/pendinglink"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// portalEnv is the portal domain on one backend, with a developer signed in.
type portalEnv struct {
	svc *portal.Service
	db  *store.DB
	id  *identity.Service
	n   atomic.Int64
}

// forPortalBackends runs fn on SQLite always and on PostgreSQL when LOGINSIGN_TEST_DATABASE_URL
// is set, each with a fresh database that the cases share (each makes its own application).
func forPortalBackends(t *testing.T, fn func(t *testing.T, e *portalEnv)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, newPortalEnv(t, storetest.SQLite(t)))
	})
	if base := os.Getenv(storetest.EnvPostgres); base != "" {
		t.Run("postgres", func(t *testing.T) {
			t.Parallel()
			fn(t, newPortalEnv(t, storetest.Postgres(t, base)))
		})
	}
}

func newPortalEnv(t *testing.T, db *store.DB) *portalEnv {
	t.Helper()
	sealer, err := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
	if err != nil {
		t.Fatal(err)
	}
	id := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
	return &portalEnv{db: db, id: id,
		svc: &portal.Service{DB: db, WebhookSecrets: sealer, RelayDomain: "relay.test.example", Identity: id}}
}

// person creates an account with a fresh address.
func (e *portalEnv) person(t *testing.T) *ent.User {
	t.Helper()
	u, err := e.id.CreateUser(context.Background(), fmt.Sprintf("person-%d@example.com", e.n.Add(1)), "Some Person")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// developer signs in a new developer and returns their context. The sign-in is recent, as
// changing redirect or delivery URLs, rotating secrets and deleting need (auth.RequireRecentSignIn).
func (e *portalEnv) developer(t *testing.T) context.Context {
	t.Helper()
	return auth.WithSession(context.Background(), auth.Session{UserID: e.person(t).ID, SignedInAt: time.Now()})
}

// app creates an application of the developer of ctx, its redirect URI on a host of its own
// (another developer's application may not register one's host).
func (e *portalEnv) app(t *testing.T, ctx context.Context) *ent.Application {
	t.Helper()
	a, err := e.svc.CreateApplication(ctx, portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{fmt.Sprintf("https://shop%d.example/cb", e.n.Add(1))}})
	if err != nil {
		t.Fatal(err)
	}
	return a.Application
}

// connect makes u's connection to app, sharing address with it ("" = the masked alias).
func (e *portalEnv) connect(t *testing.T, u *ent.User, app *ent.Application, address string) *ent.AppConnection {
	t.Helper()
	var c *ent.AppConnection
	err := e.db.Tx(context.Background(), func(tx *ent.Tx) error {
		var err error
		c, err = connections.Create(context.Background(), tx, u.ID, app.ID, "relay.test.example", time.Now(),
			func(c *ent.AppConnectionCreate) { c.SetAppEmail(address) })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statuses(rows []*ent.ImportRow) string {
	var out []string
	for _, r := range rows {
		out = append(out, string(r.Status))
	}
	return strings.Join(out, ",")
}

// TestImport: Import proposes links and never reveals or changes an account: every valid row
// is a pending link (imported) whether or not an account holds the address, a row is
// already_connected only when the application already sees that address, malformed rows are
// invalid_row with a message, and the run is refused whole when it is empty, too large, named
// too long, or of an application the developer does not own.
func TestImport(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		tests := []struct {
			name   string
			users  func(e *portalEnv, app *ent.Application) []portal.ImportUser
			want   string            // row statuses in order
			counts map[string]int    // counts of the run
			links  map[string]string // pending links after the run: address → external id
			msgs   []string          // parts of the rows' messages, in order ("" = none)
		}{
			{"valid rows become pending links", func(*portalEnv, *ent.Application) []portal.ImportUser {
				return []portal.ImportUser{{ExternalUserID: "u1", Email: "Ann@Example.com", Name: "Ann", RegistrationDate: "2026-01-02"},
					{ExternalUserID: " u2 ", Email: "bob@example.com", LastLoginDate: "2026-03-04T05:06:07Z"}}
			}, "imported,imported", map[string]int{"imported": 2, "already_connected": 0, "invalid_row": 0},
				map[string]string{"ann@example.com": "u1", "bob@example.com": "u2"}, []string{"", ""}},
			{"known and unknown addresses answer alike", func(e *portalEnv, _ *ent.Application) []portal.ImportUser {
				return []portal.ImportUser{{ExternalUserID: "k", Email: e.person(t).Email}, {ExternalUserID: "u", Email: "nobody-has-this@example.com"}}
			}, "imported,imported", nil, nil, nil},
			{"bad rows are invalid_row with a message", func(*portalEnv, *ent.Application) []portal.ImportUser {
				return []portal.ImportUser{
					{Email: "noid@example.com"},
					{ExternalUserID: strings.Repeat("x", 256), Email: "longid@example.com"},
					{ExternalUserID: "e1", Email: "not an address"},
					{ExternalUserID: "e2", Email: "longname@example.com", Name: strings.Repeat("n", 201)},
					{ExternalUserID: "e3", Email: "baddate@example.com", RegistrationDate: "yesterday"},
					{ExternalUserID: "e4", Email: "badlogin@example.com", LastLoginDate: "31/12/2026"},
					{ExternalUserID: "ok", Email: "fine@example.com"},
				}
			}, "invalid_row,invalid_row,invalid_row,invalid_row,invalid_row,invalid_row,imported",
				map[string]int{"imported": 1, "already_connected": 0, "invalid_row": 6}, map[string]string{"fine@example.com": "ok"},
				[]string{"externalUserId is required", "longer than 255", "not a valid email address", "name is longer", "registrationDate", "lastLoginDate", ""}},
			{"the same address twice: the later row wins", func(*portalEnv, *ent.Application) []portal.ImportUser {
				return []portal.ImportUser{{ExternalUserID: "first", Email: "twice@example.com"}, {ExternalUserID: "second", Email: "TWICE@example.com"}}
			}, "imported,imported", nil, map[string]string{"twice@example.com": "second"}, nil},
			{"an address the application already sees is already_connected", func(e *portalEnv, app *ent.Application) []portal.ImportUser {
				u := e.person(t)
				e.connect(t, u, app, u.Email)
				hidden := e.person(t)
				e.connect(t, hidden, app, "") // shares only the alias: the import learns nothing
				return []portal.ImportUser{{ExternalUserID: "c1", Email: u.Email, LastLoginDate: "2026-05-01"}, {ExternalUserID: "c2", Email: hidden.Email}}
			}, "already_connected,imported", map[string]int{"imported": 1, "already_connected": 1, "invalid_row": 0}, nil, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				dev := e.developer(t)
				app := e.app(t, dev)
				res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: tt.users(e, app), SourceName: "  CRM  "})
				if err != nil {
					t.Fatal(err)
				}
				if got := statuses(res.Rows); got != tt.want {
					t.Fatalf("statuses %s, want %s", got, tt.want)
				}
				if res.Source.Name != "CRM" || res.Source.Total != len(res.Rows) {
					t.Fatalf("source %+v", res.Source)
				}
				for k, v := range tt.counts {
					if res.Source.Counts[k] != v {
						t.Fatalf("counts %v, want %v", res.Source.Counts, tt.counts)
					}
				}
				for i, m := range tt.msgs {
					if (m == "") != (res.Rows[i].Message == "") || !strings.Contains(res.Rows[i].Message, m) {
						t.Fatalf("row %d message %q, want %q", i+1, res.Rows[i].Message, m)
					}
				}
				if tt.links != nil {
					ls, err := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).All(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					got := map[string]string{}
					for _, l := range ls {
						got[l.Email] = l.ExternalUserID
					}
					if fmt.Sprint(got) != fmt.Sprint(tt.links) {
						t.Fatalf("pending links %v, want %v", got, tt.links)
					}
				}
				stored, err := e.svc.ImportSource(dev, app.ID, res.Source.ID)
				if err != nil || statuses(stored.Rows) != tt.want {
					t.Fatalf("the stored run: %v, %v", stored, err)
				}
			})
		}

		t.Run("refused runs change nothing", func(t *testing.T) {
			t.Parallel()
			dev := e.developer(t)
			app := e.app(t, dev)
			row := []portal.ImportUser{{ExternalUserID: "1", Email: "a@example.com"}}
			for _, tt := range []struct {
				name string
				ctx  context.Context
				app  string
				req  portal.ImportRequest
				code apperr.Code
			}{
				{"no rows", dev, app.ID, portal.ImportRequest{}, apperr.Invalid},
				{"too many rows", dev, app.ID, portal.ImportRequest{Users: make([]portal.ImportUser, portal.MaxImportRows+1)}, apperr.TooLarge},
				{"long source name", dev, app.ID, portal.ImportRequest{Users: row, SourceName: strings.Repeat("s", 201)}, apperr.Invalid},
				{"another developer's application", e.developer(t), app.ID, portal.ImportRequest{Users: row}, apperr.NotFound},
				{"unknown application", dev, "app_unknown", portal.ImportRequest{Users: row}, apperr.NotFound},
				{"nobody signed in", context.Background(), app.ID, portal.ImportRequest{Users: row}, apperr.Unauthorized},
			} {
				if _, err := e.svc.Import(tt.ctx, tt.app, tt.req); !apperr.Is(err, tt.code) {
					t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
				}
			}
			if n, _ := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).Count(context.Background()); n != 0 {
				t.Fatalf("refused runs left %d pending links", n)
			}
			if page, err := e.svc.ImportSources(dev, app.ID, nil, nil, nil, nil); err != nil || page.TotalCount != 0 {
				t.Fatalf("refused runs were stored: %v, %v", page, err)
			}
		})

		t.Run("a duplicate run updates the links and keeps a refusal", func(t *testing.T) {
			t.Parallel()
			dev := e.developer(t)
			app := e.app(t, dev)
			first, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
				{ExternalUserID: "1", Email: "keep@example.com"}, {ExternalUserID: "2", Email: "refuses@example.com"}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.db.PendingLink.Update().Where(pendinglink.Email("refuses@example.com")).SetRefusedAt(time.Now()).Save(context.Background()); err != nil {
				t.Fatal(err)
			}
			second, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Kind: "csv", Users: []portal.ImportUser{
				{ExternalUserID: "1-new", Email: "keep@example.com"}, {ExternalUserID: "2-new", Email: "refuses@example.com"}}})
			if err != nil || statuses(second.Rows) != "imported,imported" || second.Source.ID == first.Source.ID {
				t.Fatalf("second run: %+v, %v", second, err)
			}
			ls, _ := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).All(context.Background())
			if len(ls) != 2 {
				t.Fatalf("%d pending links after a duplicate run, want 2", len(ls))
			}
			for _, l := range ls {
				if !strings.HasSuffix(l.ExternalUserID, "-new") || (l.Email == "refuses@example.com") != (l.RefusedAt != nil) {
					t.Fatalf("link %s: external %q, refused %v", l.Email, l.ExternalUserID, l.RefusedAt)
				}
			}
			page, err := e.svc.ImportSources(dev, app.ID, nil, nil, nil, nil)
			if err != nil || page.TotalCount != 2 || page.Edges[0].Node.ID != second.Source.ID {
				t.Fatalf("runs newest first: %v, %v", page, err)
			}
			if _, err := e.svc.ImportSource(e.developer(t), app.ID, first.Source.ID); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("another developer read a run: %v", err)
			}
		})
	})
}

// TestImportNeverMovesASignInForward: an import's lastLoginDate never moves a connection's last
// session, the person's own sign-in, forward: back-channel logouts go to every application whose
// last session is not older than the session that ends, and the date is in the person's data
// export. A date more than a day in the future, lastLoginDate or registrationDate, is an
// invalid_row (for an address the application sees or not, and nothing of it is stored); one
// less ahead (local times read as UTC) is read as now. A past date later than a recorded
// sign-in refreshes the connection but leaves its last session; a connection with no sign-in
// recorded still takes a past date, and a pending link still stores one, as before.
func TestImportNeverMovesASignInForward(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		signedIn := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
		connect := func(lastSession *time.Time) *ent.AppConnection {
			u := e.person(t)
			c := e.connect(t, u, app, u.Email)
			if lastSession != nil {
				c = e.db.AppConnection.UpdateOne(c).SetLastSessionAt(*lastSession).SaveX(ctx)
			}
			return c
		}
		future, soon, later, never, neverSoon := connect(&signedIn), connect(&signedIn), connect(&signedIn), connect(nil), connect(nil)
		backfill := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
			{ExternalUserID: "future", Email: future.AppEmail, LastLoginDate: "2099-01-01"},
			{ExternalUserID: "soon", Email: soon.AppEmail, LastLoginDate: time.Now().Add(time.Hour).Format(time.RFC3339)},
			{ExternalUserID: "later", Email: later.AppEmail, LastLoginDate: time.Now().Add(-24 * time.Hour).Format(time.RFC3339)},
			{ExternalUserID: "never", Email: never.AppEmail, LastLoginDate: backfill.Format("2006-01-02")},
			{ExternalUserID: "unknown-future", Email: "unknown-future@example.com", LastLoginDate: "2099-01-01"},
			{ExternalUserID: "unknown-past", Email: "unknown-past@example.com", LastLoginDate: backfill.Format(time.RFC3339)},
			{ExternalUserID: "registers-later", Email: "registers-later@example.com", RegistrationDate: "2099-01-01"},
			{ExternalUserID: "never-soon", Email: neverSoon.AppEmail, LastLoginDate: time.Now().Add(time.Hour).Format(time.RFC3339)},
			{ExternalUserID: "two-days-ahead", Email: "ahead@example.com", LastLoginDate: time.Now().Add(48 * time.Hour).Format(time.RFC3339)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := statuses(res.Rows), "invalid_row,already_connected,already_connected,already_connected,invalid_row,imported,invalid_row,already_connected,invalid_row"; got != want {
			t.Errorf("statuses %s, want %s", got, want)
		}
		for i, field := range map[int]string{0: "lastLoginDate", 4: "lastLoginDate", 6: "registrationDate", 8: "lastLoginDate"} {
			if m := res.Rows[i].Message; !strings.HasPrefix(m, field+": ") || !strings.HasSuffix(m, " is in the future") {
				t.Errorf("row %d message %q, want %s: … is in the future", i+1, m, field)
			}
		}

		now := time.Now()
		for _, tt := range []struct {
			name string
			conn *ent.AppConnection
			want time.Time
		}{
			{"a date in 2099", future, signedIn},
			{"a date an hour ahead", soon, signedIn},
			{"a past date later than the sign-in", later, signedIn},
			{"a past date, no sign-in recorded", never, backfill},
		} {
			c, err := e.db.AppConnection.Get(ctx, tt.conn.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.LastSessionAt == nil || !c.LastSessionAt.Equal(tt.want) || c.LastSessionAt.After(now) {
				t.Errorf("%s: last session %v, want %v", tt.name, c.LastSessionAt, tt.want)
			}
		}
		if c, _ := e.db.AppConnection.Get(ctx, neverSoon.ID); c == nil || c.LastSessionAt == nil || c.LastSessionAt.After(now) || c.LastSessionAt.Before(now.Add(-time.Minute)) {
			t.Errorf("an hour ahead, no sign-in recorded: %+v, want the import's now", c)
		}
		if c, _ := e.db.AppConnection.Get(ctx, later.ID); c == nil || c.ExternalUserID != "later" || !c.Active {
			t.Errorf("the refreshed connection %+v, want externalUserId later, active", c)
		}

		ls, err := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != 1 || ls[0].Email != "unknown-past@example.com" || ls[0].LastLoginAt == nil || !ls[0].LastLoginAt.Equal(backfill) {
			t.Fatalf("pending links %+v, want only unknown-past@example.com with its date", ls)
		}
	})
}

// TestRollbackImport: a rollback withdraws the run's open pending links, keeps refused ones
// (counted, so the answer does not tell them apart), deletes the connections people made by
// accepting its links, and runs once.
func TestRollbackImport(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		accepter := e.person(t)
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
			{ExternalUserID: "open", Email: "open@example.com"},
			{ExternalUserID: "refused", Email: "refused@example.com"},
			{ExternalUserID: "accepted", Email: accepter.Email},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.PendingLink.Update().Where(pendinglink.Email("refused@example.com")).SetRefusedAt(time.Now()).Save(ctx); err != nil {
			t.Fatal(err)
		}
		// The person signs in to the app and agrees: the link becomes their connection.
		err = e.db.Tx(ctx, func(tx *ent.Tx) error {
			l, err := connections.PendingLinkFor(ctx, tx.Client(), app.ID, []string{accepter.Email})
			if err != nil || l == nil {
				return fmt.Errorf("pending link: %v, %w", l, err)
			}
			c, err := connections.Create(ctx, tx, accepter.ID, app.ID, "relay.test.example", time.Now())
			if err != nil {
				return err
			}
			_, err = connections.AcceptPendingLink(ctx, tx, l, c, true, time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RollbackImport(e.developer(t), app.ID, res.Source.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("another developer rolled back: %v", err)
		}
		rb, err := e.svc.RollbackImport(dev, app.ID, res.Source.ID)
		if err != nil || rb.DeletedConnections != 1 || rb.WithdrawnLinks != 2 || rb.Source.RolledBackAt == nil {
			t.Fatalf("rollback: %+v, %v", rb, err)
		}
		ls, _ := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).All(ctx)
		if len(ls) != 1 || ls[0].Email != "refused@example.com" {
			t.Fatalf("pending links after rollback: %v", ls)
		}
		if n, _ := e.db.AppConnection.Query().Count(ctx); n != 0 {
			t.Fatalf("%d connections after rollback, want 0", n)
		}
		if _, err := e.svc.RollbackImport(dev, app.ID, res.Source.ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("a second rollback: %v", err)
		}
		if _, err := e.svc.RollbackImport(dev, app.ID, "src_unknown"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("an unknown run: %v", err)
		}
	})
}

// TestParseImportCSV: the import CSV reader: header names and their aliases, comma or
// semicolon, no header, a byte-order mark; malformed CSV is Invalid with its line, too many
// rows TooLarge.
func TestParseImportCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, csv string
		want      string // "id/email/name/reg/last;…", or the error code
		msg       string
	}{
		{"header", "user_id,email,name\n1,a@example.com,Ann\n2,b@example.com,\n", "1/a@example.com/Ann//;2/b@example.com///", ""},
		{"header aliases in another order", "E-Mail;External User ID;Last Login Date\na@example.com;7;2026-01-01\n", "7/a@example.com///2026-01-01", ""},
		{"no header", "1,a@example.com,Ann,2026-01-01,2026-02-01\n", "1/a@example.com/Ann/2026-01-01/2026-02-01", ""},
		{"byte-order mark and CRLF", "\ufeffid,email\r\n1,a@example.com\r\n", "1/a@example.com///", ""},
		{"short rows", "user_id,email,name\n1\n", "1////", ""},
		{"quoted fields", "user_id,email,name\n1,a@example.com,\"Ann, Jr.\"\n", "1/a@example.com/Ann, Jr.//", ""},
		{"empty", "  \n", "invalid_request", "empty"},
		{"header only", "user_id,email\n", "invalid_request", "no rows"},
		{"header without email", "user_id,name\n1,Ann\n", "invalid_request", "user_id and email"},
		{"bad quote", "user_id,email\n1,\"a@example.com\n", "invalid_request", "line"},
		{"bare quote", "user_id,email\n1,a\"b@example.com\n", "invalid_request", "line 2"},
		{"too many rows", "user_id,email\n" + strings.Repeat("1,a@example.com\n", portal.MaxImportRows+1), "payload_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := portal.ParseImportCSV(strings.NewReader(tt.csv))
			if err != nil {
				e := apperr.As(err)
				if e.Name() != tt.want || !strings.Contains(e.Message, tt.msg) {
					t.Fatalf("error %v (%s), want %s %q", err, e.Name(), tt.want, tt.msg)
				}
				return
			}
			var got []string
			for _, u := range users {
				got = append(got, strings.Join([]string{u.ExternalUserID, u.Email, u.Name, u.RegistrationDate, u.LastLoginDate}, "/"))
			}
			if strings.Join(got, ";") != tt.want {
				t.Fatalf("rows %q, want %q", strings.Join(got, ";"), tt.want)
			}
		})
	}
}
