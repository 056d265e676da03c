package team_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"loginsign/ent/appinvitation"
	"loginsign/internal/apperr"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// mailsTo counts the mails e sent to the mailbox of addr, in any spelling.
func (e *teamEnv) mailsTo(addr string) int {
	n := 0
	for _, to := range e.mail.sent() {
		if mail.MailboxKey(to) == mail.MailboxKey(addr) {
			n++
		}
	}
	return n
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestOtherAccountsCannotSpendATeamsInvitationsToAnAddress: free developer accounts that
// invite an address as often as they may, in any spelling, spend nothing of what another
// application may send it: that application's first invitation is written and mailed. Before,
// the address had one budget for every inviter (3 a day), so any free account kept the team
// that meant to invite the person from doing so for a day. The application's own budget
// still holds, and its refusal counts only its own invitations.
func TestOtherAccountsCannotSpendATeamsInvitationsToAnAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		const victim = "new-hire@bücher.example"
		for i := range team.DefaultInvitesPerAddress.N + 1 {
			dev, apps := e.developer(t, fmt.Sprintf("Griefer %d", i))
			for _, spelling := range []string{victim, "NEW-HIRE@xn--bcher-kva.example"} {
				_, _ = e.svc.Invite(dev, apps[0].ID, spelling, team.Support)
			}
		}
		owner, apps := e.developer(t, "The real team")
		before := e.mailsTo(victim)
		for i := range team.DefaultInvitesPerAddress.N {
			if _, err := e.svc.Invite(owner, apps[0].ID, victim, team.Developer); err != nil {
				t.Fatalf("the team's invitation %d after other accounts spent theirs: %v", i+1, err)
			}
		}
		if got := e.mailsTo(victim) - before; got == 0 {
			t.Errorf("the team's invitations were not mailed")
		}
		_, err := e.svc.Invite(owner, apps[0].ID, victim, team.Developer)
		wantRateLimited(t, err, fmt.Sprintf("the team's invitation %d of one address", team.DefaultInvitesPerAddress.N+1))
		if got := db.AppInvitation.Query().Where(appinvitation.ApplicationID(apps[0].ID)).CountX(context.Background()); got != team.DefaultInvitesPerAddress.N {
			t.Errorf("the team holds %d invitations, want %d", got, team.DefaultInvitesPerAddress.N)
		}
	})
}

// TestAnInvitationAnswersAlikeWhateverOtherApplicationsSentTheAddress: an application inviting
// an address that other applications have invited past every budget (its mails withheld) gets
// the answer it gets for an address nobody invited, with or without an account holding either,
// and its list of invitations shows both alike. Before, the first was refused (429), which
// told any developer that other applications had invited that address today.
func TestAnInvitationAnswersAlikeWhateverOtherApplicationsSentTheAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		holder := e.person(t)
		busy := []string{"busy@example.net", holder.Email}
		for _, addr := range busy {
			for i := range team.DefaultInvitationMailsPerAddress.N + 1 {
				dev, apps := e.developer(t, fmt.Sprintf("Other %d", i))
				_, _ = e.svc.Invite(dev, apps[0].ID, addr, team.Support) // what they are told is not the point
			}
		}
		quietHolder := e.person(t)
		owner, apps := e.developer(t, "Prober")
		type answer struct {
			app, name string
			role      team.Role
			ttl       string
			errText   string
		}
		answers := map[string]answer{}
		for _, addr := range append(busy, "quiet@example.net", quietHolder.Email) {
			inv, err := e.svc.Invite(owner, apps[0].ID, addr, team.Support)
			a := answer{errText: fmt.Sprint(err)}
			if err != nil {
				a.errText = apperr.As(err).Name() + ": " + apperr.As(err).Message
			} else {
				a.app, a.name, a.role, a.ttl = inv.ApplicationID, inv.ApplicationName, inv.Role, inv.ExpiresAt.Sub(inv.CreatedAt).String()
				if inv.Email != addr || inv.ID == "" {
					t.Errorf("%s: invitation %+v", addr, inv)
				}
			}
			answers[addr] = a
		}
		want := answers["quiet@example.net"]
		if want.errText != "<nil>" {
			t.Fatalf("an address nobody invited: %s", want.errText)
		}
		for addr, got := range answers {
			if got != want {
				t.Errorf("%s answers %+v, an address nobody invited %+v", addr, got, want)
			}
		}
		listed, err := e.svc.Invitations(owner, apps[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != 4 {
			t.Fatalf("the team lists %d invitations, want 4: %+v", len(listed), listed)
		}
		for _, inv := range listed {
			if inv.Role != team.Support || !inv.ExpiresAt.Equal(inv.CreatedAt.Add(team.InvitationTTL)) {
				t.Errorf("listed %+v", inv)
			}
		}
	})
}

// TestNoNumberOfAccountsMailsAnAddressPastTheCap: free developer accounts, each inviting one
// mailbox in its spellings, have their invitations written and answered, but the mailbox
// receives DefaultInvitationMailsPerAddress mails a day from them all together; the person
// holding it finds every invitation in their list (viewer.teamInvitations) and may accept
// one whose mail was withheld. Another address is still mailed.
func TestNoNumberOfAccountsMailsAnAddressPastTheCap(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		victim := e.person(t)
		spellings := []string{victim.Email, " " + strings.ToUpper(victim.Email), strings.Replace(victim.Email, "@", "+bomb@", 1)}
		accounts := team.DefaultInvitationMailsPerAddress.N + 5
		var last string
		for i := range accounts {
			dev, apps := e.developer(t, fmt.Sprintf("Bomber %d", i))
			inv, err := e.svc.Invite(dev, apps[0].ID, spellings[i%len(spellings)], team.Support)
			if err != nil {
				t.Fatalf("invitation %d: %v", i+1, err)
			}
			last = inv.ID
		}
		if got, want := e.mailsTo(victim.Email), team.DefaultInvitationMailsPerAddress.N; got != want {
			t.Fatalf("the mailbox received %d invitation mails from %d accounts, want %d", got, accounts, want)
		}
		if got := db.AppInvitation.Query().Where(appinvitation.RevokedAtIsNil()).CountX(ctx); got != accounts {
			t.Fatalf("%d invitations pending, want %d", got, accounts)
		}
		offered, err := e.svc.ViewerInvitations(as(victim))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(offered), accounts-accounts/len(spellings); got != want { // the +tag one is another address
			t.Fatalf("the person is offered %d invitations, want %d", got, want)
		}
		if _, role, err := e.svc.Accept(as(victim), "", offered[0].ID); err != nil || role != team.Support {
			t.Fatalf("accepting an invitation whose mail was withheld (%s, last %s): %q, %v", offered[0].ID, last, role, err)
		}
		dev, apps := e.developer(t, "Another")
		if _, err := e.svc.Invite(dev, apps[0].ID, "someone-else@example.net", team.Support); err != nil || e.mailsTo("someone-else@example.net") != 1 {
			t.Fatalf("another address: %v, %d mails", err, e.mailsTo("someone-else@example.net"))
		}
	})
}

// TestInvitationsSentAtOnceDoNotPassTheCaps: many accounts inviting one address at the same
// moment are all answered alike and mail it DefaultInvitationMailsPerAddress times; many
// invitations of one address by one application at the same moment are written
// DefaultInvitesPerAddress times and the rest refused.
func TestInvitationsSentAtOnceDoNotPassTheCaps(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		const victim = "popular@example.net"
		n := 2 * team.DefaultInvitationMailsPerAddress.N
		devs := make([]context.Context, n)
		appIDs := make([]string, n)
		for i := range n {
			dev, apps := e.developer(t, fmt.Sprintf("Crowd %d", i))
			devs[i], appIDs[i] = dev, apps[0].ID
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.svc.Invite(devs[i], appIDs[i], victim, team.Support) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("account %d: %v", i, err)
			}
		}
		if got, want := e.mailsTo(victim), team.DefaultInvitationMailsPerAddress.N; got != want {
			t.Fatalf("%d accounts at once mailed the address %d times, want %d", n, got, want)
		}

		const hire = "hire@example.net"
		owner, apps := e.developer(t, "Eager")
		tries := 3 * team.DefaultInvitesPerAddress.N
		refused := make([]bool, tries)
		for i := range tries {
			wg.Go(func() {
				_, err := e.svc.Invite(owner, apps[0].ID, hire, team.Support)
				if apperr.CodeOf(err) == apperr.RateLimited {
					refused[i] = true
				} else if err != nil {
					t.Errorf("try %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		written := db.AppInvitation.Query().Where(appinvitation.ApplicationID(apps[0].ID)).CountX(ctx)
		if written != team.DefaultInvitesPerAddress.N || e.mailsTo(hire) != written {
			t.Fatalf("%d tries at once wrote %d invitations and %d mails, want %d", tries, written, e.mailsTo(hire), team.DefaultInvitesPerAddress.N)
		}
		if got := tries - written; got != countTrue(refused) {
			t.Errorf("%d tries refused, want the %d not written", countTrue(refused), got)
		}
	})
}

// rehearsingMail is a mail server (mail.Rehearser) recording the mails sent and rehearsed, and
// refusing connections while down.
type rehearsingMail struct {
	mu              sync.Mutex
	sent, rehearsed int
	down            bool
}

func (r *rehearsingMail) Send(context.Context, mail.Message) error {
	return r.count(&r.sent)
}

func (r *rehearsingMail) Rehearse(context.Context, mail.Message) error {
	return r.count(&r.rehearsed)
}

func (r *rehearsingMail) count(n *int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	}
	*n++
	return nil
}

// TestAWithheldInvitationMailGoesThroughTheMotions: past the address's cap the mail is not
// sent but rehearsed (mail.Rehearser: the conversation with the mail server up to the
// recipient), so the answer takes the time of a mail sent; with the mail server down, an
// invitation whose mail would be withheld fails as one whose mail would be sent (an outage,
// and the invitation revoked). Before, the withheld mail skipped the mail server, and the
// answer came back a mail server's round trip sooner.
func TestAWithheldInvitationMailGoesThroughTheMotions(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		box := &rehearsingMail{}
		e.svc.Mail = box
		const victim = "rehearsed@example.net"
		limit := team.DefaultInvitationMailsPerAddress.N
		for i := range limit + 2 {
			dev, apps := e.developer(t, fmt.Sprintf("Bomber %d", i))
			if _, err := e.svc.Invite(dev, apps[0].ID, victim, team.Support); err != nil {
				t.Fatalf("invitation %d: %v", i+1, err)
			}
		}
		if box.sent != limit || box.rehearsed != 2 {
			t.Fatalf("%d mails sent and %d rehearsed, want %d and 2", box.sent, box.rehearsed, limit)
		}

		box.down = true
		owner, apps := e.developer(t, "During an outage")
		answers := map[string]string{}
		for _, addr := range []string{victim, "fresh@example.net"} {
			_, err := e.svc.Invite(owner, apps[0].ID, addr, team.Support)
			if !apperr.DependencyDown(err) {
				t.Errorf("%s with the mail server down: %v, want an outage", addr, err)
			}
			answers[addr] = fmt.Sprint(err)
		}
		if answers[victim] != answers["fresh@example.net"] {
			t.Errorf("with the mail server down: %q for the address past its cap, %q for another", answers[victim], answers["fresh@example.net"])
		}
		if open, err := e.svc.Invitations(owner, apps[0].ID); err != nil || len(open) != 0 {
			t.Fatalf("open invitations after the failed mails: %v %v, want none", open, err)
		}
	})
}
