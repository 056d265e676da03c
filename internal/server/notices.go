package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/store"
)

// securityNotices mails a person when their second factors change (mfa.Service.Notify and
// passkey.Service.Notify): a passkey or TOTP added or removed, a recovery code used, recovery
// codes renewed. The mail goes to the primary address after the change committed, in the
// background, so a slow mail server never delays the person's request; a failure is logged.
type securityNotices struct {
	db      *store.DB
	mail    mail.Sender
	log     *slog.Logger
	baseURL string
	now     func() time.Time
}

// noticeText is the headline and the sentence of each event.
var noticeText = map[mfa.Event][2]string{
	passkey.Added:            {"A passkey was added", "A passkey was added"},
	passkey.Removed:          {"A passkey was removed", "A passkey was removed"},
	mfa.TOTPAdded:            {"Two-step verification was turned on", "An authenticator app was set up for two-step verification"},
	mfa.TOTPRemoved:          {"Two-step verification was turned off", "Two-step verification with an authenticator app was turned off"},
	mfa.RecoveryCodeUsed:     {"A recovery code was used", "One of your recovery codes was used for two-step verification (it cannot be used again)"},
	mfa.RecoveryCodesRenewed: {"New recovery codes were made", "Your recovery codes were replaced by ten new ones (the old ones no longer work)"},
}

func (n *securityNotices) send(ctx context.Context, userID string, event mfa.Event) {
	text, ok := noticeText[event]
	if !ok {
		n.log.WarnContext(ctx, "security notice: unknown event", "event", event)
		return
	}
	when := n.now()
	run := func(ctx context.Context) {
		u, err := n.db.User.Get(ctx, userID)
		if err != nil {
			n.log.WarnContext(ctx, "security notice: reading the person", "event", event, "err", err)
			return
		}
		m := mail.SecurityNotice(u.Email, text[0], text[1], when, strings.TrimRight(n.baseURL, "/")+"/dashboard")
		if err := n.mail.Send(ctx, m); err != nil {
			n.log.WarnContext(ctx, "security notice not sent", "event", event, "err", err)
		}
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		run(ctx)
	}()
}
