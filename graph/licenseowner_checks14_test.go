package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/client"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestALicensePagesOwnersWithoutConsentAreNotReadAgain (review helper gql14, checks14): the
// codes list loads each code's connection with its person and consent, but LicenseCode.owner
// took a connection without consent (nil, though loaded) for one not loaded and read it again
// with its person and consent, three statements for each such code of the page. It now reads
// nothing more, and answers the same owner (no name: nothing shared).
func TestALicensePagesOwnersWithoutConsentAreNotReadAgain(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var statements atomic.Int32
		counted := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
			dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) { statements.Add(1) })))}
		id := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		p := &portal.Service{DB: counted}
		ls := licenses.New(counted, p.Authorize, time.Now)
		f := &fixture{db: counted, identity: id, portal: p,
			handler: graph.NewHandler(&graph.Resolver{Client: counted.Client, Identity: id, Portal: p, Licenses: ls}, slog.New(slog.DiscardHandler))}
		alice, _ := id.CreateUser(ctx, "alice@example.com", "Alice")
		actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
		app, err := p.CreateApplication(actx, portal.ApplicationInput{Name: "A"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := ls.CreateVariant(actx, app.Application.ID, licenses.VariantInput{Name: "Pro"})
		if err != nil {
			t.Fatal(err)
		}
		const codes = 10
		want := map[string]string{}
		for i := range codes {
			person, _ := id.CreateUser(ctx, fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("Person %d", i))
			var conn *ent.AppConnection
			if err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
				conn, err = connections.CreateWithAlias(ctx, tx, person.ID, app.Application.ID, "relay.example", "", time.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			code := fmt.Sprintf("CODE-%d", i)
			if err := db.LicenseCode.Create().SetApplicationID(app.Application.ID).SetVariantID(v.ID).SetCode(code).SetCodeKey(fmt.Sprintf("CODE%d", i)).
				SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(now).SetCreatedAt(now).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			want[code] = person.GlobalID
		}
		q := func(owner string) string {
			return `query($id: ID!) { application(id: $id) { licenseCodes(first: 50) { edges { node { code ` + owner + ` } } } } }`
		}
		var plain map[string]any
		statements.Store(0)
		if err := f.as(alice.ID).Post(q(""), &plain, client.Var("id", app.Application.ID)); err != nil {
			t.Fatal(err)
		}
		base := statements.Load()
		var got struct {
			Application struct {
				LicenseCodes struct {
					Edges []struct {
						Node struct {
							Code  string
							Owner *struct {
								GlobalID string
								Name     *string
							}
						}
					}
				}
			}
		}
		statements.Store(0)
		if err := f.as(alice.ID).Post(q("owner { globalId name }"), &got, client.Var("id", app.Application.ID)); err != nil {
			t.Fatal(err)
		}
		if extra := statements.Load() - base; extra != 0 {
			t.Errorf("the owners of %d codes ran %d statements more than the codes alone, want none", codes, extra)
		}
		if n := len(got.Application.LicenseCodes.Edges); n != codes {
			t.Fatalf("%d codes, want %d", n, codes)
		}
		for _, e := range got.Application.LicenseCodes.Edges {
			if o := e.Node.Owner; o == nil || o.GlobalID != want[e.Node.Code] || (o.Name != nil && *o.Name != "") {
				t.Errorf("%s: owner %+v, want %s without a name", e.Node.Code, o, want[e.Node.Code])
			}
		}
	})
}
