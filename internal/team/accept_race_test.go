package team_test

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"

	"loginsign/ent"
	"loginsign/ent/appinvitation"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// linkbox keeps the text of the last mail it is given.
type linkbox struct {
	mu   sync.Mutex
	text string
}

func (l *linkbox) Send(_ context.Context, m mail.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.text = m.Text
	return nil
}

var tokenRE = regexp.MustCompile(`\?token=(\S+)`)

// invitationToken invites member to app as role and returns the token of the link mailed.
func (e *teamEnv) invitationToken(t *testing.T, owner context.Context, app *ent.Application, member *ent.User, role team.Role) string {
	t.Helper()
	box := &linkbox{}
	svc := *e.svc
	svc.Mail = box
	if _, err := svc.Invite(owner, app.ID, member.Email, role); err != nil {
		t.Fatal(err)
	}
	m := tokenRE.FindStringSubmatch(box.text)
	if m == nil {
		t.Fatalf("no link in %q", box.text)
	}
	tok, err := url.QueryUnescape(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// An invitation link followed many times at once, and an ownership transfer accepted many
// times at once, take effect once: one seat, one owner change, the old owner an admin once.
// Many rounds, on SQLite and PostgreSQL.
func TestAnInvitationOrATransferAcceptedManyTimesAtOnceTakesEffectOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		const rounds, parallel = 6, 6
		for i := range rounds {
			owner, apps := e.developer(t, "Shop")
			app, member := apps[0], e.person(t)
			tok := e.invitationToken(t, owner, app, member, team.Admin)
			var joined atomic.Int32
			var wg sync.WaitGroup
			for range parallel {
				wg.Go(func() {
					_, _, err := e.svc.Accept(as(member), tok, "")
					if err == nil {
						joined.Add(1)
					} else if e := apperr.As(err); e == nil || (e.Name() != "already_member" && e.Name() != "invitation_not_found") {
						t.Errorf("round %d: accepting: %v", i, err)
					}
				})
			}
			wg.Wait()
			if n := joined.Load(); n != 1 {
				t.Fatalf("round %d: the invitation accepted %d times at once joined %d times, want once", i, parallel, n)
			}
			if n := db.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.UserID(member.ID)).CountX(ctx); n != 1 {
				t.Fatalf("round %d: %d seats of the member, want 1", i, n)
			}

			if _, err := e.svc.ProposeTransfer(owner, app.ID, member.ID); err != nil {
				t.Fatal(err)
			}
			var took atomic.Int32
			for range parallel {
				wg.Go(func() {
					_, err := e.svc.AcceptTransfer(as(member), app.ID)
					if err == nil {
						took.Add(1)
					} else if e := apperr.As(err); e == nil || e.Name() != "no_transfer" {
						t.Errorf("round %d: accepting the transfer: %v", i, err)
					}
				})
			}
			wg.Wait()
			if n := took.Load(); n != 1 {
				t.Fatalf("round %d: the transfer accepted %d times at once took effect %d times, want once", i, parallel, n)
			}
			a := db.Application.GetX(ctx, app.ID)
			seats := db.AppMember.Query().Where(appmember.ApplicationID(app.ID)).AllX(ctx)
			if a.OwnerID != member.ID || a.TransferTo != nil || len(seats) != 1 || seats[0].UserID != app.OwnerID || seats[0].Role != appmember.RoleAdmin {
				t.Fatalf("round %d: after the transfer: owner %s (want %s), transfer to %v, seats %v (want the old owner's, admin)", i, a.OwnerID, member.ID, a.TransferTo, seats)
			}
		}
	})
}

// An acceptance whose seat cannot be written (the database failing) spends nothing: the
// invitation is used in the same transaction as the seat, so the link works again.
func TestAnInvitationWhoseSeatCannotBeWrittenStaysUsable(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		var fault atomic.Bool
		db.AppMember.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if m.Op().Is(ent.OpCreate) && fault.CompareAndSwap(true, false) {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		})
		owner, apps := e.developer(t, "Shop")
		member := e.person(t)
		tok := e.invitationToken(t, owner, apps[0], member, team.Developer)
		fault.Store(true)
		if _, _, err := e.svc.Accept(as(member), tok, ""); err == nil || fault.Load() {
			t.Fatalf("accepting with the seat not written: %v, want the failure reported", err)
		}
		if n := db.AppInvitation.Query().Where(appinvitation.ApplicationID(apps[0].ID), appinvitation.AcceptedAtIsNil()).CountX(ctx); n != 1 {
			t.Fatal("the invitation was spent by an acceptance that failed")
		}
		if _, role, err := e.svc.Accept(as(member), tok, ""); err != nil || role != team.Developer {
			t.Fatalf("the link again: %q, %v; want it to join", role, err)
		}
	})
}
