package portal_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/retiredalias"
	"loginsign/ent/user"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
)

// TestDeletingALargeApplicationGoesOnWhereAFailureStopped: deleting an application with more
// people than one attempt gets through before it fails (a deadline, a lost connection, a
// restart) reports the failure, and the same request again goes on from the connections
// ended already until the application is gone, each connection ended once. In one
// transaction, every attempt lost all it had done, and no retry ever finished.
func TestDeletingALargeApplicationGoesOnWhereAFailureStopped(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		if err := e.db.Application.UpdateOne(app).SetWebhookURL("https://shop.example/hook").Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		const people, perAttempt = 1100, 600
		now := time.Now().UTC()
		// Global User IDs of their own, past those the allocator gave the developer (any id
		// of the space, so possibly one of these).
		taken, err := e.db.User.Query().Select(user.FieldGlobalID).Strings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		users := make([]*ent.UserCreate, 0, people)
		for n := 0; len(users) < people; n++ {
			gid := fmt.Sprintf("QX%04d", n)
			if slices.Contains(taken, gid) {
				continue
			}
			users = append(users, e.db.User.Create().SetGlobalID(gid).SetEmail(fmt.Sprintf("large-%d@example.com", n)))
		}
		us, err := e.db.User.CreateBulk(users...).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns := make([]*ent.AppConnectionCreate, people)
		for i, u := range us {
			conns[i] = e.db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
				SetAliasEmail(fmt.Sprintf("large%d@relay.test.example", i)).SetJoinedAt(now).SetCreatedAt(now).SetUpdatedAt(now)
		}
		if err := e.db.AppConnection.CreateBulk(conns...).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		// Each attempt ends at most perAttempt connections; ending the next one fails.
		var left atomic.Int64
		e.db.AppConnection.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if m.Op().Is(ent.OpDeleteOne) && left.Add(-1) < 0 {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		})
		tries := 0
		for ; tries < 4; tries++ {
			left.Store(perAttempt)
			err = e.svc.DeleteApplication(dev, app.ID)
			if tries == 0 {
				if err == nil {
					t.Fatal("the first attempt reported success, though it could not end every connection")
				}
				// What it ended stays ended, and the application, going, is sent no event.
				left, err := e.db.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).Count(ctx)
				if err != nil || left == people {
					t.Fatalf("%d of %d connections left after the failed attempt (%v): it kept nothing", left, people, err)
				}
				if n, err := e.db.WebhookEvent.Query().Where(webhookevent.ApplicationID(app.ID)).Count(ctx); err != nil || n != 0 {
					t.Fatalf("%d events queued for the application being deleted (%v)", n, err)
				}
			}
			if err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("DeleteApplication did not finish in %d attempts of %d connections each: %v", tries, perAttempt, err)
		}

		if _, err := e.db.Application.Get(ctx, app.ID); !store.NotFound(err) {
			t.Fatalf("the application after the retry: %v, want it gone", err)
		}
		if n, err := e.db.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).Count(ctx); err != nil || n != 0 {
			t.Fatalf("%d connections left (%v)", n, err)
		}
		// Every alias retired once: each connection was ended by connections.Delete, once.
		if n, err := e.db.RetiredAlias.Query().Where(retiredalias.AddressHasPrefix("large")).Count(ctx); err != nil || n != people {
			t.Fatalf("%d aliases retired, want %d (%v)", n, people, err)
		}
	})
}
