package appapi_test

import (
	"context"
	"testing"

	"loginsign/internal/appapi"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestASlowReaderOfTheLoginsListHoldsNoDatabaseConnection: GET /api/applications/{appId}/users
// without a limit writes every connection of the application, and yield is where each row
// goes to the client. The rows came from one query read as a stream, so a backend reading its
// response slowly kept a database connection from the pool until the write timeout (a
// minute): a few slow requests took every connection of the instance. Now no connection is
// in use while yield runs, and the list is still whole and in order across the batches.
func TestASlowReaderOfTheLoginsListHoldsNoDatabaseConnection(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const n = 1200 // more than two batches of appapi.DefaultStreamBatch
		app, _, _ := setup(t, db, n)
		s := &appapi.Service{DB: db}
		ctx := auth.WithClient(context.Background(), auth.Client{ApplicationID: app.ID})
		for _, q := range []appapi.LoginsQuery{{}, {Limit: n - 1}} {
			l, err := s.CurrentLogins(ctx, app.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			rows, held, last := 0, 0, ""
			next, err := l.Each(ctx, func(row *appapi.Login) error {
				// The client reads this row now, as slowly as it likes.
				if db.SQL.Stats().InUse != 0 {
					held++
				}
				if row.ConnectionID <= last {
					t.Fatalf("row %d: %s after %s", rows, row.ConnectionID, last)
				}
				rows, last = rows+1, row.ConnectionID
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := n
			if q.Limit > 0 {
				want = q.Limit
			}
			if rows != want || (next != "") != (q.Limit > 0) {
				t.Errorf("limit %d: %d rows, next cursor %q; want %d rows", q.Limit, rows, next, want)
			}
			if held != 0 {
				t.Errorf("limit %d: a database connection was in use while the client read %d of the %d rows", q.Limit, held, rows)
			}
		}
	})
}
