package appapi_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"loginsign/internal/appapi"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestTheLastPageOfLoginsEndsWithTheApplicationsLastConnection: a page that ends with the
// application's last connection gives no next cursor, even when another application has a
// connection with a later id: whether other applications have connections is none of the
// caller's business, and the next page would be empty.
func TestTheLastPageOfLoginsEndsWithTheApplicationsLastConnection(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app, _, other := setup(t, db, 3)
		person := db.User.Create().SetGlobalID("ZZ0002").SetEmail("later@example.com").SaveX(ctx)
		db.AppConnection.Create().SetID(ids.Connection + strings.Repeat("z", 24)).SetUserID(person.ID).SetApplicationID(other.ID).
			SetAliasEmail(ids.RandomLower(12) + "@relay.example.com").ExecX(ctx)
		s := &appapi.Service{DB: db}
		as := auth.WithClient(ctx, auth.Client{ApplicationID: app.ID})

		l, err := s.CurrentLogins(as, app.ID, appapi.LoginsQuery{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		next, err := l.Each(as, func(*appapi.Login) error { rows++; return nil })
		if err != nil || rows != 3 || next != "" {
			t.Errorf("the application's 3 logins in a page of 3: %d rows, next cursor %q, %v; want 3 rows and no next cursor", rows, next, err)
		}
	})
}

// TestALoginsCursorNamesAConnection: a cursor is the base64 of a connection id; the base64 of
// anything else is refused like malformed base64.
func TestALoginsCursorNamesAConnection(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	app, _, _ := setup(t, db, 0)
	s := &appapi.Service{DB: db}
	as := auth.WithClient(context.Background(), auth.Client{ApplicationID: app.ID})
	for _, c := range []string{ids.New("app_"), "con"} {
		cursor := base64.RawURLEncoding.EncodeToString([]byte(c))
		if _, err := s.CurrentLogins(as, app.ID, appapi.LoginsQuery{Cursor: cursor}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("cursor of %q: %v, want invalid_request", c, err)
		}
	}
}
