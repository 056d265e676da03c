package team_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appinvitation"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// outbox records the recipients of the mails it is given (the outside world's mail server).
type outbox struct {
	mu sync.Mutex
	to []string
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.to = append(o.to, m.To)
	return nil
}

func (o *outbox) sent() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.to)
}

// teamEnv is the team domain on one backend with the shared limiter and a recording mailer.
type teamEnv struct {
	db   *store.DB
	svc  *team.Service
	mail *outbox
	n    atomic.Int64
}

func newTeamEnv(t *testing.T, db *store.DB) *teamEnv {
	t.Helper()
	out := &outbox{}
	return &teamEnv{db: db, mail: out, svc: &team.Service{DB: db, Mail: out, BaseURL: "https://id.example",
		Limiter: ratelimit.New(kvtest.Embedded(t))}}
}

// person creates an account with a fresh address.
func (e *teamEnv) person(t *testing.T) *ent.User {
	t.Helper()
	n := e.n.Add(1)
	u, err := e.db.User.Create().SetGlobalID(globalid.Format(n * 7919 % globalid.Space)).
		SetEmail(fmt.Sprintf("person-%d@example.com", n)).SetName("Some Person").Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// developer signs in a new developer owning one application per name.
func (e *teamEnv) developer(t *testing.T, names ...string) (context.Context, []*ent.Application) {
	t.Helper()
	u := e.person(t)
	apps := make([]*ent.Application, len(names))
	for i, name := range names {
		a, err := e.db.Application.Create().SetOwnerID(u.ID).SetName(name).SetSecretHash(ids.Hash(ids.Secret("t"))).Save(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = a
	}
	return as(u), apps
}

// wantRateLimited fails unless err is rate_limited with a Retry-After.
func wantRateLimited(t *testing.T, err error, what string) {
	t.Helper()
	if e := apperr.As(err); e.Code != apperr.RateLimited || e.RetryAfter < 1 {
		t.Fatalf("%s: %v, want rate_limited", what, err)
	}
}

// TestInvitationsPerDeveloper: a developer sends at most DefaultInvitesPerDeveloper
// invitations an hour across all their applications (the per-application count alone let one
// with 100 applications mail 2,000 an hour); the next is refused, mails nothing and stores
// nothing. Another developer is not held up.
func TestInvitationsPerDeveloper(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		dev, apps := e.developer(t, "First", "Second")
		n := team.DefaultInvitesPerDeveloper.N
		for i := range n {
			app := apps[i%2]
			if _, err := e.svc.Invite(dev, app.ID, fmt.Sprintf("invitee-%d@example.net", i), team.Developer); err != nil {
				t.Fatalf("invitation %d: %v", i+1, err)
			}
		}
		_, err := e.svc.Invite(dev, apps[1].ID, "one-more@example.net", team.Developer)
		wantRateLimited(t, err, fmt.Sprintf("invitation %d across two applications", n+1))
		if got := e.mail.sent(); len(got) != n || slices.Contains(got, "one-more@example.net") {
			t.Fatalf("%d mails sent (%v), want %d", len(got), got, n)
		}
		if got := db.AppInvitation.Query().Where(appinvitation.Email("one-more@example.net")).CountX(ctx); got != 0 {
			t.Fatalf("a refused invitation was stored")
		}

		other, otherApps := e.developer(t, "Other")
		if _, err := e.svc.Invite(other, otherApps[0].ID, "one-more@example.net", team.Developer); err != nil {
			t.Fatalf("another developer: %v", err)
		}
	})
}

// TestInvitationsPerAddress: an application sends an address at most DefaultInvitesPerAddress
// invitations a day, from all its inviters together and in any spelling of the address; the
// next is refused and mails nothing, with the same answer whether or not an account holds the
// address. Another address, and another application, still get theirs.
func TestInvitationsPerAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		holder := e.person(t)
		refusals := map[string]*apperr.Error{}
		for _, victim := range []string{"nobody@example.net", holder.Email} {
			dev, apps := e.developer(t, "Insistent")
			n := team.DefaultInvitesPerAddress.N
			for i := range n {
				if _, err := e.svc.Invite(dev, apps[0].ID, victim, team.Support); err != nil {
					t.Fatalf("invitation %d of %s: %v", i+1, victim, err)
				}
			}
			for _, spelling := range []string{victim, " " + strings.ToUpper(victim)} {
				_, err := e.svc.Invite(dev, apps[0].ID, spelling, team.Support)
				wantRateLimited(t, err, fmt.Sprintf("invitation %d of %q", n+1, spelling))
				refusals[victim] = apperr.As(err)
			}
			if received := e.mailsTo(victim); received != n {
				t.Fatalf("%s received %d invitations, want %d", victim, received, n)
			}
			if got := db.AppInvitation.Query().Where(appinvitation.ApplicationID(apps[0].ID)).CountX(ctx); got != n {
				t.Fatalf("a refused invitation was stored")
			}
			if _, err := e.svc.Invite(dev, apps[0].ID, "someone-else@example.net", team.Support); err != nil {
				t.Fatalf("another address after the refusal: %v", err)
			}
			other, otherApps := e.developer(t, "Other")
			if _, err := e.svc.Invite(other, otherApps[0].ID, victim, team.Support); err != nil {
				t.Fatalf("another application after the refusal: %v", err)
			}
		}
		a, b := refusals["nobody@example.net"], refusals[holder.Email]
		if a.Name() != b.Name() || a.Message != b.Message {
			t.Fatalf("refusals differ: %+v without an account, %+v with one", a, b)
		}
	})
}

// TestTransferDoesNotPassTheApplicationCap: the cap on owned applications holds for a transfer
// too, not only for creation: a member who owns MaxOwnedApplications cannot accept one more,
// and the application stays its owner's; with one fewer the transfer goes through.
func TestTransferDoesNotPassTheApplicationCap(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		ctx := context.Background()
		owner, apps := e.developer(t, "Moving")
		names := make([]string, team.MaxOwnedApplications)
		for i := range names {
			names[i] = fmt.Sprintf("Own %d", i)
		}
		member, owned := e.developer(t, names...)
		sess, _ := auth.SessionFrom(member)
		m, err := e.db.User.Get(ctx, sess.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.AppMember.Create().SetApplicationID(apps[0].ID).SetUserID(m.ID).SetEmail(m.Email).
			SetRole("admin").SetCreatedAt(time.Now()).SetUpdatedAt(time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ProposeTransfer(owner, apps[0].ID, m.ID); err != nil {
			t.Fatalf("propose: %v", err)
		}
		if _, err := e.svc.AcceptTransfer(member, apps[0].ID); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("accepting with %d applications owned: %v, want invalid_request", len(owned), err)
		}
		if a, _ := e.db.Application.Get(ctx, apps[0].ID); a.OwnerID == m.ID {
			t.Fatal("the refused transfer moved the application")
		}
		if err := e.db.Application.DeleteOne(owned[0]).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if a, err := e.svc.AcceptTransfer(member, apps[0].ID); err != nil || a.OwnerID != m.ID {
			t.Fatalf("accepting with one fewer: %v", err)
		}
	})
}

// TestClosedInvitationsArePurged: an invitation, accepted, revoked or left to expire, is read
// by nothing once it has expired but its link's page; ClosedInvitationRetention past its
// expiry the housekeeping deletes it. Open invitations stay.
func TestClosedInvitationsArePurged(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		start := time.Now().UTC()
		at := start
		e.svc.Now = func() time.Time { return at }
		dev, apps := e.developer(t, "Notes")
		var old []string
		for i := range 3 {
			inv, err := e.svc.Invite(dev, apps[0].ID, fmt.Sprintf("old-%d@example.net", i), team.Support)
			if err != nil {
				t.Fatal(err)
			}
			old = append(old, inv.ID)
		}
		if err := e.svc.Revoke(dev, apps[0].ID, old[0]); err != nil {
			t.Fatal(err)
		}
		expired := start.Add(team.InvitationTTL)
		at = expired.Add(team.ClosedInvitationRetention - time.Hour)
		open, err := e.svc.Invite(signedInAt(dev, at), apps[0].ID, "open@example.net", team.Support)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.PurgeInvitations(ctx); err != nil || n != 0 {
			t.Fatalf("within the retention: purged %d, %v", n, err)
		}
		at = expired.Add(team.ClosedInvitationRetention + time.Hour)
		if n, err := e.svc.PurgeInvitations(ctx); err != nil || n != 3 {
			t.Fatalf("past the retention: purged %d, %v; want the 3 old invitations", n, err)
		}
		if left := db.AppInvitation.Query().IDsX(ctx); !slices.Equal(left, []string{open.ID}) {
			t.Fatalf("invitations left %v, want the open one %s", left, open.ID)
		}
	})
}

// as is the context of u, who signed in just now: inviting, changing roles and proposing a
// transfer need a recent sign-in (auth.RequireRecentSignIn).
func as(u *ent.User) context.Context {
	return signedInAt(auth.WithSession(context.Background(), auth.Session{UserID: u.ID}), time.Now())
}

// signedInAt is ctx with its session's sign-in at at, for a test whose clock has moved on.
func signedInAt(ctx context.Context, at time.Time) context.Context {
	s, _ := auth.SessionFrom(ctx)
	s.SignedInAt = at
	return auth.WithSession(ctx, s)
}

// join invites member to app with role, as inviter, and accepts the invitation as member.
func (e *teamEnv) join(t *testing.T, inviter context.Context, app *ent.Application, member *ent.User, role team.Role) {
	t.Helper()
	inv, err := e.svc.Invite(inviter, app.ID, member.Email, role)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Accept(as(member), "", inv.ID); err != nil {
		t.Fatal(err)
	}
}

// TestInvitationsEndWithTheInvitersPower: an invitation carries the authority of the admin
// who sent it. An admin who invites a second mailbox of theirs as admin, then is removed,
// demoted below admin (by the owner or by themselves) or leaves, does not come back through
// it: the invitations they sent to that team are revoked with the change, and accepting one
// whose inviter may no longer manage the team answers as a revoked one (invitation_not_found)
// and joins nobody, also when the invitation was left open (as before this check, when only the
// member row went). Their invitation to a team where they are still admin keeps working.
func TestInvitationsEndWithTheInvitersPower(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		tests := []struct {
			name    string
			takeOff func(owner context.Context, app *ent.Application, admin *ent.User) error
			revoked bool // the invitation is revoked by the change itself
		}{
			{"removed by the owner", func(owner context.Context, app *ent.Application, admin *ent.User) error {
				return e.svc.Remove(owner, app.ID, admin.ID)
			}, true},
			{"demoted to developer by the owner", func(owner context.Context, app *ent.Application, admin *ent.User) error {
				_, err := e.svc.ChangeRole(owner, app.ID, admin.ID, team.Developer)
				return err
			}, true},
			{"demoted to support by themselves", func(_ context.Context, app *ent.Application, admin *ent.User) error {
				_, err := e.svc.ChangeRole(as(admin), app.ID, admin.ID, team.Support)
				return err
			}, true},
			{"left", func(_ context.Context, app *ent.Application, admin *ent.User) error {
				return e.svc.Leave(as(admin), app.ID)
			}, true},
			{"member row deleted, invitations left open", func(_ context.Context, app *ent.Application, admin *ent.User) error {
				_, err := db.AppMember.Delete().Where(appmember.ApplicationID(app.ID), appmember.UserID(admin.ID)).Exec(ctx)
				return err
			}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				owner, apps := e.developer(t, "Shop", "Other")
				admin, second := e.person(t), e.person(t)
				for _, app := range apps {
					e.join(t, owner, app, admin, team.Admin)
				}
				var invs []*team.Invitation
				for _, app := range apps {
					inv, err := e.svc.Invite(as(admin), app.ID, second.Email, team.Admin)
					if err != nil {
						t.Fatal(err)
					}
					invs = append(invs, inv)
				}

				if err := tt.takeOff(owner, apps[0], admin); err != nil {
					t.Fatal(err)
				}
				inv, err := db.AppInvitation.Get(ctx, invs[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				if got := inv.RevokedAt != nil; got != tt.revoked {
					t.Errorf("the inviter's invitation revoked: %v, want %v", got, tt.revoked)
				}
				_, _, err = e.svc.Accept(as(second), "", invs[0].ID)
				if got := apperr.As(err); err == nil || got.Name() != "invitation_not_found" {
					t.Fatalf("accepting the invitation of an admin no more: %v, want invitation_not_found", err)
				}
				if role, err := e.svc.ViewerRole(as(second), apps[0].ID); !apperr.Is(err, apperr.NotFound) {
					t.Fatalf("the second mailbox's account is on the team (%q, %v)", role, err)
				}

				// The same admin's invitation to the team they still manage works.
				if _, role, err := e.svc.Accept(as(second), "", invs[1].ID); err != nil || role != team.Admin {
					t.Fatalf("accepting the invitation of an admin still: %q, %v", role, err)
				}
			})
		}
	})
}
