package profile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/profile"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// people creates accounts named by their addresses, and an application each of them is
// connected to.
func people(t *testing.T, db *store.DB, emails ...string) ([]*ent.User, []*ent.AppConnection) {
	t.Helper()
	ctx := context.Background()
	var users []*ent.User
	var conns []*ent.AppConnection
	for i, email := range emails {
		users = append(users, db.User.Create().SetGlobalID(globalid.Format(int64(i+1)*7919%globalid.Space)).SetEmail(email).SaveX(ctx))
	}
	app := db.Application.Create().SetOwnerID(users[0].ID).SetName("Shop").SetSecretHash("h").SaveX(ctx)
	for _, u := range users {
		conns = append(conns, db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
			SetAliasEmail(strings.Split(u.Email, "@")[0]+"@relay.example.com").SaveX(ctx))
	}
	return users, conns
}

func signedIn(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "s-" + u.ID, SignedInAt: time.Now()})
}

// TestAProfileIsReadOnlyByItsPerson: another signed-in person asking for someone's profile is
// told not found, as for an account that does not exist; signed out, unauthorized.
func TestAProfileIsReadOnlyByItsPerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		users, _ := people(t, db, "pat@example.com", "other@example.com")
		pat, other := users[0], users[1]
		svc := profile.New(db, kvtest.Embedded(t), "https://id.example", nil)
		name := "Pat Person"
		if _, err := svc.UpdateProfile(signedIn(pat), profile.Update{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if v, err := svc.Of(signedIn(other), pat.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another person reading the profile: %+v, %v; want not found", v, err)
		}
		if _, err := svc.Of(context.Background(), pat.ID); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("reading a profile signed out: %v, want unauthorized", err)
		}
		if v, err := svc.Of(signedIn(pat), pat.ID); err != nil || v.Name != name {
			t.Errorf("the person reading their profile: %+v, %v", v, err)
		}
	})
}

// TestARegionChangeIsWrittenOnlyToThePersonsConnections: the region a person chooses is
// reported on their connections, and on nobody else's.
func TestARegionChangeIsWrittenOnlyToThePersonsConnections(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		users, conns := people(t, db, "pat@example.com", "other@example.com")
		svc := profile.New(db, kvtest.Embedded(t), "https://id.example", nil)
		fr := "FR"
		if _, err := svc.UpdateProfile(signedIn(users[0]), profile.Update{Region: &fr}); err != nil {
			t.Fatal(err)
		}
		if c := db.AppConnection.GetX(ctx, conns[0].ID); c.Region != "France" {
			t.Errorf("the person's connection reports region %q, want France", c.Region)
		}
		if c := db.AppConnection.GetX(ctx, conns[1].ID); c.Region != "" {
			t.Errorf("another person's connection reports region %q, want none", c.Region)
		}
	})
}

// TestAPictureChangeTouchesOnlyThePersonsPicture: a new picture replaces the person's own
// (its old URL answers not found) and removing it removes theirs; another person's picture is
// still served after both.
func TestAPictureChangeTouchesOnlyThePersonsPicture(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		users, _ := people(t, db, "pat@example.com", "other@example.com")
		pat, other := users[0], users[1]
		svc := profile.New(db, kvtest.Embedded(t), "https://id.example", nil)
		set := func(u *ent.User) string {
			t.Helper()
			v, err := svc.SetPicture(signedIn(u), flat16(t, 8, 8))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimPrefix(v.PictureURL, "https://id.example"+profile.PicturePath)
		}
		others := set(other)
		first := set(pat)
		set(pat)
		if _, err := svc.PictureByID(ctx, first); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("the person's replaced picture: %v, want not found", err)
		}
		if _, err := svc.PictureByID(ctx, others); err != nil {
			t.Errorf("another person's picture after the person's new one: %v", err)
		}
		if _, err := svc.RemovePicture(signedIn(pat)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PictureByID(ctx, others); err != nil {
			t.Errorf("another person's picture after the person removed theirs: %v", err)
		}
	})
}

// TestPictureUploadsPastTheLimitAreRefusedBeforeTheFileIsRead: past Uploads the next upload
// answers rate_limited whatever it holds, a file that is no picture too: it is counted before
// any work on the file.
func TestPictureUploadsPastTheLimitAreRefusedBeforeTheFileIsRead(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		users, _ := people(t, db, "pat@example.com")
		svc := profile.New(db, kvtest.Embedded(t), "https://id.example", nil)
		svc.Uploads = ratelimit.Rule{Name: "test-picture-upload", N: 1, Window: time.Hour}
		if _, err := svc.SetPicture(signedIn(users[0]), flat16(t, 8, 8)); err != nil {
			t.Fatalf("the first upload: %v", err)
		}
		if _, err := svc.SetPicture(signedIn(users[0]), []byte("not a picture")); !apperr.Is(err, apperr.RateLimited) {
			t.Errorf("an upload past the limit: %v, want rate_limited", err)
		}
	})
}
