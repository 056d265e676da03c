package server

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
)

// securityNotices mails a person when their second factors change (mfa.Service.Notify and
// passkey.Service.Notify): a passkey or TOTP added or removed, a recovery code used, recovery
// codes renewed; the notice of a TOTP added carries its "this wasn't me" link (mfa.UndoTOTP). The mail goes to the primary address after the change committed, in the
// background, so a slow mail server never delays the person's request; a failure is logged.
type securityNotices struct {
	db      *store.DB
	mail    mail.Sender
	log     *slog.Logger
	baseURL string
	now     func() time.Time
}

func (n *securityNotices) send(ctx context.Context, userID string, event mfa.Event, undo string) {
	when := n.now()
	run := func(ctx context.Context) {
		u, err := n.db.User.Get(ctx, userID)
		if err != nil {
			n.log.WarnContext(ctx, "security notice: reading the person", "event", event, "err", err)
			return
		}
		// The person's own request caused the change: their language, else the request's.
		base := strings.TrimRight(n.baseURL, "/")
		if undo != "" {
			undo = base + mfa.UndoTOTPPath + "?token=" + url.QueryEscape(undo)
		}
		m, ok := mail.UndoableSecurityNotice(i18n.ForPerson(ctx, u.Language), u.Email, string(event), when, base+"/dashboard", undo)
		if !ok {
			n.log.WarnContext(ctx, "security notice: unknown event", "event", event)
			return
		}
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
