package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/client"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAConnectionsPersonIsReadOncePerListNotPerRow (review helper gql14, checks14):
// AppConnection.globalId and name read the person (and, for name, the consent) of each row
// on its own, up to three statements a row priced one point each, wherever the list did not
// load them: nodes(ids:) of a developer's connections, and a person's own connections. A
// list of rows now reads its persons in two statements whatever its length, and answers the
// same: the Global User ID, and the name only where the person shares the profile scope.
func TestAConnectionsPersonIsReadOncePerListNotPerRow(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var statements atomic.Int32
		counted := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
			dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) { statements.Add(1) })))}
		sealer, err := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
		if err != nil {
			t.Fatal(err)
		}
		id := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		p := &portal.Service{DB: counted, WebhookSecrets: sealer}
		f := &fixture{db: counted, identity: id, portal: p,
			handler: graph.NewHandler(&graph.Resolver{Client: counted.Client, Identity: id, Portal: p}, slog.New(slog.DiscardHandler))}

		alice, _ := id.CreateUser(ctx, "alice@example.com", "Alice")
		actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
		dave, _ := id.CreateUser(ctx, "dave@example.com", "Dave")
		const rows = 12
		var connIDs []string
		want := map[string][2]string{} // connection id → global id, shown name
		connect := func(i int, u *ent.User, appID string) string {
			var conn *ent.AppConnection
			if err := db.Tx(ctx, func(tx *ent.Tx) (err error) {
				if conn, err = connections.CreateWithAlias(ctx, tx, u.ID, appID, "relay.example", "", time.Now()); err != nil {
					return err
				}
				scopes := []string{"openid", "email"}
				if i%2 == 0 {
					scopes = append(scopes, "profile")
				}
				if i%3 == 2 {
					return nil // every third connection has no consent at all
				}
				return tx.Consent.Create().SetConnectionID(conn.ID).SetScopes(scopes).Exec(ctx)
			}); err != nil {
				t.Fatal(err)
			}
			name := ""
			if i%2 == 0 && i%3 != 2 {
				name = u.Name
			}
			want[conn.ID] = [2]string{u.GlobalID, name}
			return conn.ID
		}
		// Each application of Alice's has one person of its own and Dave connected.
		for i := range rows {
			app, err := p.CreateApplication(actx, portal.ApplicationInput{Name: fmt.Sprintf("App %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			person, err := id.CreateUser(ctx, fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("Person %d", i))
			if err != nil {
				t.Fatal(err)
			}
			connIDs = append(connIDs, connect(i, person, app.Application.ID))
			connect(i, dave, app.Application.ID)
		}

		type row struct {
			ID       string
			GlobalID string
			Name     *string
		}
		check := func(what string, got []row, n int) {
			t.Helper()
			if len(got) != n {
				t.Fatalf("%s: %d rows, want %d", what, len(got), n)
			}
			for _, r := range got {
				name := ""
				if r.Name != nil {
					name = *r.Name
				}
				if w, ok := want[r.ID]; !ok || r.GlobalID != w[0] || name != w[1] {
					t.Errorf("%s: %s answered %q %q, want %q %q", what, r.ID, r.GlobalID, name, w[0], w[1])
				}
			}
		}
		// nodes(ids:) of the developer's connections.
		var nodes struct{ Nodes []row }
		statements.Store(0)
		var plain map[string]any
		if err := f.as(alice.ID).Post(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, &plain, client.Var("ids", connIDs)); err != nil {
			t.Fatal(err)
		}
		base := statements.Load()
		statements.Store(0)
		if err := f.as(alice.ID).Post(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on AppConnection { globalId name } } }`,
			&nodes, client.Var("ids", connIDs)); err != nil {
			t.Fatal(err)
		}
		extra := statements.Load() - base
		check("nodes(ids:)", nodes.Nodes, rows)
		if extra > 2 {
			t.Errorf("globalId and name of %d nodes ran %d statements more than their ids, want at most 2", rows, extra)
		}

		// A person's own connections.
		var viewer struct {
			Viewer struct {
				Connections struct{ Edges []struct{ Node row } }
			}
		}
		statements.Store(0)
		if err := f.as(dave.ID).Post(`{ viewer { connections(first: 50) { edges { node { id } } } } }`, &plain); err != nil {
			t.Fatal(err)
		}
		base = statements.Load()
		statements.Store(0)
		if err := f.as(dave.ID).Post(`{ viewer { connections(first: 50) { edges { node { id globalId name } } } } }`, &viewer); err != nil {
			t.Fatal(err)
		}
		extra = statements.Load() - base
		var got []row
		for _, e := range viewer.Viewer.Connections.Edges {
			got = append(got, e.Node)
		}
		check("viewer.connections", got, rows)
		if extra > 2 {
			t.Errorf("globalId and name of %d connections ran %d statements more than their ids, want at most 2", rows, extra)
		}
	})
}
