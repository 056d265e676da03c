package team_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// unreachableMail is a mail server whose connection is refused.
type unreachableMail struct{}

func (unreachableMail) Send(context.Context, mail.Message) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
}

// TestAnInvitationWhoseMailServerIsDownIsAnOutage: an invitation whose mail cannot be sent
// because the mail server cannot be reached is an outage (503 with Retry-After, which every
// transport derives from apperr.DependencyDown), as every other mail's failure is (sign-in
// links, address confirmations, codes), and the invitation is not left open. Before, Invite
// replaced the cause with apperr Internal "sending the invitation failed": a 500.
func TestAnInvitationWhoseMailServerIsDownIsAnOutage(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		down := *e.svc
		down.Mail = unreachableMail{}
		_, err := down.Invite(owner, apps[0].ID, e.person(t).Email, team.Admin)
		if !apperr.DependencyDown(err) || !apperr.Is(err, apperr.Internal) {
			t.Fatalf("inviting with the mail server unreachable: %v, want an outage (apperr.DependencyDown)", err)
		}
		if open, err := e.svc.Invitations(owner, apps[0].ID); err != nil || len(open) != 0 {
			t.Fatalf("open invitations after the failed mail: %v %v, want none", open, err)
		}
	})
}
