package portal_test

import (
	"context"
	"fmt"
	"testing"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/ent/user"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestSearchingUsersReadsNoMoreBehindOtherApplicationsPeople (review helper analyst21,
// checks21): the users search (filter.search, REST q) of one application read the people of
// every application. Its lookups of the Global User ID and of the display name were
// subqueries over the whole users table (and, for the name, every connection's consent), and
// on PostgreSQL the branches of a term of three or more characters looked the term up among
// every application's connections (the relay domain, "relay", matches every alias LoginSign
// ever issued) before keeping the application's. Any developer with an application of three
// people and a free account had each search (and each alias of users(filter: {search}) {
// totalCount }, 21 complexity points) scan what every other developer's people hold. Here:
// the search of an application of three people reads as much with 3,000 people of another
// application in the database as with 100, for a short term and for terms matching the others'
// aliases, Global User IDs and names.
func TestSearchingUsersReadsNoMoreBehindOtherApplicationsPeople(t *testing.T) {
	t.Parallel()
	const small, large = 100, 3000
	tables := []string{appconnection.Table, user.Table, consent.Table}
	terms := []string{"ot", "relay.test", "OT0", "other per"}
	for backend, url := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, reads := storetest.Measured(t, url, tables...)
			e := newPortalEnv(t, db)
			if err := e.svc.EnsureSearchIndexes(ctx); err != nil {
				t.Fatal(err)
			}
			owner := e.developer(t)
			app := e.app(t, owner)
			for range 3 {
				e.connect(t, e.person(t), app, "")
			}
			others := e.app(t, e.developer(t))
			othersPeople(t, db.Client, others, 0, small)
			search := func(q string) int {
				t.Helper()
				before := reads()
				first := 10
				page, err := e.svc.ConnectedUsers(owner, app.ID, portal.UserPage{First: &first, Filter: &portal.UserFilter{Search: q}})
				if err != nil {
					t.Fatal(err)
				}
				if page.TotalCount > 3 {
					t.Fatalf("search %q of an application of 3 people found %d", q, page.TotalCount)
				}
				read := reads().Minus(before)
				n := 0
				for _, tb := range tables {
					n += read.Of(tb)
					if backend == "sqlite" {
						break // one count of every table's pages
					}
				}
				return n
			}
			analyze(t, db)
			before := map[string]int{}
			for _, q := range terms {
				search(q) // prepares its statements
				before[q] = search(q)
			}
			othersPeople(t, db.Client, others, small, large)
			analyze(t, db)
			for _, q := range terms {
				search(q)
				after := search(q)
				if allowed := storetest.NoMoreThan(db, before[q]); after > allowed {
					t.Errorf("searching %q among 3 people read %d %s beside %d people of another application, %d beside %d; want at most %d",
						q, after, unit(backend), large, before[q], small, allowed)
				}
				t.Logf("%q: %d %s beside %d people of another application, %d beside %d", q, after, unit(backend), large, before[q], small)
			}
		})
	}
}

// analyze updates PostgreSQL's statistics, as autovacuum does for a table that grew.
func analyze(t *testing.T, db *store.DB) {
	t.Helper()
	if db.Dialect != dialect.Postgres {
		return
	}
	if _, err := db.SQL.ExecContext(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}

// unit is what storetest.Reads counts on backend.
func unit(backend string) string {
	if backend == "sqlite" {
		return "pages of any table"
	}
	return "rows"
}

// othersPeople connects people from..to-1 to app: another developer's people, each with a
// Global User ID OTnnnn, the name "Other Person n" and a relay alias, sharing their profile.
func othersPeople(t *testing.T, c *ent.Client, app *ent.Application, from, to int) {
	t.Helper()
	ctx := context.Background()
	// The people the test made before were given Global User IDs at random, one of which may
	// be OTnnnn (about one run in 500): that number is skipped for one past the others'.
	taken := map[string]bool{}
	ids, err := c.User.Query().Select(user.FieldGlobalID).Strings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		taken[id] = true
	}
	globalID := func(i int) string {
		for n := i; n < 10000; n += 3000 { // to is at most 3,000
			if id := fmt.Sprintf("OT%04d", n); !taken[id] {
				return id
			}
		}
		t.Fatalf("OT%04d and its stand-ins are taken", i)
		return ""
	}
	for start := from; start < to; start += 100 {
		end := min(start+100, to)
		users, err := c.User.MapCreateBulk(make([]int, end-start), func(b *ent.UserCreate, k int) {
			i := start + k
			b.SetGlobalID(globalID(i)).SetEmail(fmt.Sprintf("other-%d@example.com", i)).SetName(fmt.Sprintf("Other Person %d", i))
		}).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns, err := c.AppConnection.MapCreateBulk(users, func(b *ent.AppConnectionCreate, k int) {
			b.SetUserID(users[k].ID).SetApplicationID(app.ID).SetAliasEmail(fmt.Sprintf("o%d@relay.test.example", start+k))
		}).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Consent.MapCreateBulk(conns, func(b *ent.ConsentCreate, k int) {
			b.SetConnectionID(conns[k].ID).SetScopes([]string{"openid", "profile"})
		}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
