package identity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAProposalOfAnAppNoLongerConnectedIsGone: a request still pending whose application is
// no longer connected to the person (the connection gone, or the application with it, without
// the request being ended) is not confirmed, not shown and not cancelled: each answers exactly
// what a superseded request answers (Gone, invalid_token), and the primary address stays. The
// second line of defence behind connections.Delete and the application's deletion, which end
// the request themselves; also the answer for a request of no application at all.
func TestAProposalOfAnAppNoLongerConnectedIsGone(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, smtp := mailingIdentity(t, db, time.Now)
		dev, err := s.CreateUser(ctx, "dev@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			gone func(app *ent.Application, conn *ent.AppConnection)
		}{
			{"the connection is gone", func(_ *ent.Application, conn *ent.AppConnection) {
				db.AppConnection.DeleteOne(conn).ExecX(ctx)
			}},
			{"the application is gone", func(app *ent.Application, conn *ent.AppConnection) {
				db.AppConnection.DeleteOne(conn).ExecX(ctx)
				db.Application.DeleteOne(app).ExecX(ctx)
			}},
			{"the application never was", nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				pat, err := s.CreateUser(ctx, "pat-"+ids.RandomLower(6)+"@example.com", "")
				if err != nil {
					t.Fatal(err)
				}
				app := db.Application.Create().SetOwnerID(dev.ID).SetName("Curious").SetSecretHash("h").SaveX(ctx)
				conn := db.AppConnection.Create().SetUserID(pat.ID).SetApplicationID(app.ID).
					SetAliasEmail("curious-" + ids.RandomLower(6) + "@relay.example.com").SetAppEmail(pat.Email).SaveX(ctx)
				appID := app.ID
				if tt.gone == nil {
					appID = "app_never"
				}
				propose := func(addr string) (confirm, cancel string) {
					t.Helper()
					before := smtp.Count()
					if _, err := s.RequestEmailChange(ctx, pat.ID, addr, identity.EmailChangeRequester{
						ApplicationID: appID, ApplicationName: app.Name, ConnectionID: conn.ID}); err != nil {
						t.Fatal(err)
					}
					for _, m := range smtp.Wait(t, before+2)[before:] {
						if l := changeLinkRE.FindStringSubmatch(m.Text); l != nil && l[1] == "confirm" {
							confirm = l[2]
						} else if l != nil {
							cancel = l[2]
						}
					}
					return confirm, cancel
				}
				superseded, supersededCancel := propose("pat@first.example")
				orphan, orphanCancel := propose("pat@dev-chosen.example")
				if tt.gone != nil {
					tt.gone(app, conn)
				}
				as := auth.WithSession(ctx, auth.Session{UserID: pat.ID, ID: "s", SignedInAt: time.Now()})

				_, want := s.ConfirmEmailChange(as, superseded, "")
				if !apperr.Is(want, apperr.Gone) {
					t.Fatalf("confirming a superseded request: %v", want)
				}
				for _, try := range []struct {
					what string
					do   func() error
				}{
					{"showing", func() error { _, err := s.PendingEmailChange(as, orphan, false); return err }},
					{"confirming", func() error { _, err := s.ConfirmEmailChange(as, orphan, ""); return err }},
					{"cancelling", func() error { _, err := s.CancelEmailChange(ctx, orphanCancel); return err }},
				} {
					if err := try.do(); !sameError(err, want) {
						t.Errorf("%s a request of an app no longer connected: %v, want what a superseded one answers: %v", try.what, err, want)
					}
				}
				if _, err := s.CancelEmailChange(ctx, supersededCancel); !sameError(err, want) {
					t.Errorf("cancelling a superseded request: %v", err)
				}
				if got, _ := s.User(ctx, pat.ID); got.Email != pat.Email || got.EmailVersion != pat.EmailVersion {
					t.Errorf("the primary address is %s (version %d), want %s unchanged", got.Email, got.EmailVersion, pat.Email)
				}
				if n := db.AppConnection.Query().Where(appconnection.UserID(pat.ID), appconnection.AppEmail("pat@dev-chosen.example")).CountX(ctx); n != 0 {
					t.Errorf("a connection follows the proposed address")
				}
			})
		}
	})
}

// sameError reports whether got is the application error want, to the word.
func sameError(got, want error) bool {
	g, w := apperr.As(got), apperr.As(want)
	return g != nil && w != nil && g.Code == w.Code && g.Reason == w.Reason && g.Message == w.Message
}
