package appapi_test

import (
	"context"
	"encoding/base64"
	"testing"

	"loginsign/internal/appapi"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestALoginsCursorThatIsNotTextIsRefusedBeforeTheStream: a cursor is base64, so what it
// decodes to never went through the checks of the query string (guardEdge refuses a NUL or
// invalid UTF-8 there). A cursor that decodes to "con_" and then a NUL or bytes that are not
// UTF-8 must be refused by CurrentLogins (invalid_request, before the 200 is sent), or else be
// streamed without error. PostgreSQL refuses such text in a parameter, and the stream starts
// after the status is written: the caller would get a 200 with a cut body.
func TestALoginsCursorThatIsNotTextIsRefusedBeforeTheStream(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		app, _, _ := setup(t, db, 3)
		s := &appapi.Service{DB: db}
		as := auth.WithClient(context.Background(), auth.Client{ApplicationID: app.ID})
		for _, raw := range []string{ids.Connection + "\x00", ids.Connection + "\xff\xfe", ids.Connection} {
			cursor := base64.RawURLEncoding.EncodeToString([]byte(raw))
			l, err := s.CurrentLogins(as, app.ID, appapi.LoginsQuery{Limit: 2, Cursor: cursor})
			if err != nil {
				if apperr.CodeOf(err) != apperr.Invalid {
					t.Errorf("cursor of %q: %v, want invalid_request", raw, err)
				}
				continue
			}
			if _, err := l.Each(as, func(*appapi.Login) error { return nil }); err != nil {
				t.Errorf("cursor of %q: accepted by CurrentLogins, then the stream failed (the 200 is already sent): %v", raw, err)
			}
		}
	})
}

// TestAnotherApplicationsConnectionAsCursorShowsNothingOfIt: a cursor forged from another
// application's connection id only moves the start of the caller's own list; it lists none of
// the other application's people and the total stays the caller's.
func TestAnotherApplicationsConnectionAsCursorShowsNothingOfIt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app, _, other := setup(t, db, 4)
		theirs := db.AppConnection.Query().Where().AllX(ctx)
		mine := map[string]bool{}
		var foreign string
		for _, c := range theirs {
			if c.ApplicationID == app.ID {
				mine[c.ID] = true
			} else if c.ApplicationID == other.ID {
				foreign = c.ID
			}
		}
		s := &appapi.Service{DB: db}
		as := auth.WithClient(ctx, auth.Client{ApplicationID: app.ID})
		for _, cursor := range []string{"", base64.RawURLEncoding.EncodeToString([]byte(foreign))} {
			l, err := s.CurrentLogins(as, app.ID, appapi.LoginsQuery{Cursor: cursor})
			if err != nil {
				t.Fatalf("cursor %q: %v", cursor, err)
			}
			if l.Total != len(mine) {
				t.Errorf("cursor %q: total %d, want the caller's %d", cursor, l.Total, len(mine))
			}
			if _, err := l.Each(as, func(r *appapi.Login) error {
				if !mine[r.ConnectionID] {
					t.Errorf("cursor %q lists connection %s, which is not the caller's", cursor, r.ConnectionID)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		// Another application's credentials never read this list.
		if _, err := s.CurrentLogins(auth.WithClient(ctx, auth.Client{ApplicationID: other.ID}), app.ID, appapi.LoginsQuery{}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("another application's client: %v, want forbidden", err)
		}
		if _, err := s.CurrentLogins(as, app.ID, appapi.LoginsQuery{Limit: appapi.MaxLoginsPage + 1}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("limit over the maximum: %v, want invalid_request", err)
		}
	})
}
