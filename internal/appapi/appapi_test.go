package appapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/appapi"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/clientauth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

func setup(t *testing.T, db *store.DB, n int) (*ent.Application, string, *ent.Application) {
	t.Helper()
	ctx := context.Background()
	dev := db.User.Create().SetGlobalID("ZZ0001").SetEmail("dev@example.com").SaveX(ctx)
	secret := ids.Secret("lss_")
	app := db.Application.Create().SetOwnerID(dev.ID).SetName("A").SetSecretHash(ids.Hash(secret)).SaveX(ctx)
	other := db.Application.Create().SetOwnerID(dev.ID).SetName("B").SetSecretHash(ids.Hash("other")).SaveX(ctx)
	for start := 0; start < n; start += 500 {
		m := min(500, n-start)
		users := make([]*ent.UserCreate, m)
		for i := range users {
			k := int64(start + i + 10)
			users[i] = db.User.Create().SetGlobalID(globalid.Format(k * 7919 % globalid.Space)).SetEmail(fmt.Sprintf("p%d@example.com", k))
		}
		us := db.User.CreateBulk(users...).SaveX(ctx)
		conns := make([]*ent.AppConnectionCreate, m)
		for i, u := range us {
			conns[i] = db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).SetAliasEmail(ids.RandomLower(12) + "@relay.example.com")
		}
		db.AppConnection.CreateBulk(conns...).ExecX(ctx)
		// Connections of another application are never listed.
		db.AppConnection.Create().SetUserID(us[0].ID).SetApplicationID(other.ID).SetAliasEmail(ids.RandomLower(12) + "@relay.example.com").ExecX(ctx)
	}
	return app, secret, other
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		app, secret, other := setup(t, db, 0)
		s := &appapi.Service{DB: db, Clients: &clientauth.Service{DB: db, Limiter: ratelimit.New(kvtest.Embedded(t))}}
		c, err := s.Authenticate(context.Background(), app.ID, secret)
		if err != nil || c.ApplicationID != app.ID {
			t.Fatalf("right credentials: %+v, %v", c, err)
		}
		for _, tt := range []struct{ name, id, secret string }{
			{"wrong secret", app.ID, secret + "x"},
			{"another application's id", other.ID, secret},
			{"unknown application", "app_nope", secret},
			{"empty secret", app.ID, ""},
			{"empty id", "", secret},
			{"overlong id", string(make([]byte, 65)), secret},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Authenticate(context.Background(), tt.id, tt.secret)
				if e := apperr.As(err); e.Code != apperr.Unauthorized || e.Name() != "invalid_client" {
					t.Fatalf("err = %v, want invalid_client", err)
				}
			})
		}
	})
}

func TestCurrentLoginsPages(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		app, _, other := setup(t, db, 2500)
		s := &appapi.Service{DB: db}
		ctx := auth.WithClient(context.Background(), auth.Client{ApplicationID: app.ID})
		seen := map[string]bool{}
		last := ""
		q := appapi.LoginsQuery{Limit: 1000}
		pages := 0
		for {
			l, err := s.CurrentLogins(ctx, app.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			if l.Total != 2500 {
				t.Fatalf("total %d", l.Total)
			}
			next, err := l.Each(ctx, func(row *appapi.Login) error {
				if seen[row.ConnectionID] || row.ConnectionID <= last {
					t.Fatalf("%s repeated or out of order", row.ConnectionID)
				}
				seen[row.ConnectionID], last = true, row.ConnectionID
				if row.Email != row.AliasEmail || row.JoinedAt.IsZero() || row.JoinedAt.After(time.Now()) || !row.IsActive {
					t.Fatalf("row %+v", row)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if next == "" {
				break
			}
			q.Cursor = next
		}
		if len(seen) != 2500 || pages != 3 {
			t.Fatalf("%d rows in %d pages", len(seen), pages)
		}
		// Without a limit, everything in one stream.
		l, _ := s.CurrentLogins(ctx, app.ID, appapi.LoginsQuery{})
		n := 0
		next, err := l.Each(ctx, func(*appapi.Login) error { n++; return nil })
		if err != nil || n != 2500 || next != "" {
			t.Fatalf("unpaged: %d rows, next %q, %v", n, next, err)
		}
		for _, tt := range []struct {
			name string
			ctx  context.Context
			q    appapi.LoginsQuery
			want apperr.Code
		}{
			{"no client", context.Background(), appapi.LoginsQuery{}, apperr.Unauthorized},
			{"another application", auth.WithClient(context.Background(), auth.Client{ApplicationID: other.ID}), appapi.LoginsQuery{}, apperr.Forbidden},
			{"negative limit", ctx, appapi.LoginsQuery{Limit: -1}, apperr.Invalid},
			{"limit too large", ctx, appapi.LoginsQuery{Limit: appapi.MaxLoginsPage + 1}, apperr.Invalid},
			{"bad cursor", ctx, appapi.LoginsQuery{Cursor: "%%"}, apperr.Invalid},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.CurrentLogins(tt.ctx, app.ID, tt.q)
				if apperr.CodeOf(err) != tt.want {
					t.Fatalf("err = %v, want %s", err, tt.want)
				}
			})
		}
	})
}
