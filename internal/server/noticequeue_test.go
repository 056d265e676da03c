package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/ent/queuedmail"
	"loginsign/internal/mfa"
)

// A security notice the mail server refuses for longer than the mail package's own three
// tries is kept (in the database) and sent when the queue's worker tries again: before, the
// notice of a second factor renewed, an address moved or a member removed was lost to a mail
// server down for more than five seconds. On every backend.
func TestASecurityNoticeOutlivesAMailServerOutage(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		e.authorizeCode(e.browser(), "ann@example.com")
		ann, err := e.srv.identity.UserByEmail(ctx, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		before := len(e.smtp.Messages())
		down := &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "down for maintenance"}
		e.smtp.FailNext(down, down, down)
		e.srv.mfa.Notify(ctx, ann.ID, mfa.RecoveryCodesRenewed, "")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if n := e.srv.db.QueuedMail.Query().Where(queuedmail.AttemptsEQ(1)).CountX(ctx); n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no notice waits for a retry after the mail server refused it; queued: %d",
					e.srv.db.QueuedMail.Query().CountX(ctx))
			}
		}
		if n := len(e.smtp.Messages()); n != before {
			t.Fatalf("%d mails sent while the mail server refused them", n-before)
		}
		// Its retry is due (a minute later): the worker sends it.
		e.srv.db.QueuedMail.Update().SetNextAttemptAt(time.Now().Add(-time.Second)).ExecX(ctx)
		if n, err := e.srv.notices.SendDue(ctx); n != 1 || err != nil {
			t.Fatalf("the worker sent %d: %v", n, err)
		}
		m := e.smtp.Wait(t, before+1)[before]
		if !strings.EqualFold(strings.Trim(m.To[0], "<>"), "ann@example.com") || !isSecurityNotice(m.Subject) {
			t.Fatalf("sent %q to %v", m.Subject, m.To)
		}
		if n := e.srv.db.QueuedMail.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d notices still queued after it was sent", n)
		}
	})
}
