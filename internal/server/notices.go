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
	"loginsign/internal/oauth"
	"loginsign/internal/store"
)

// securityNotices mails a person when their second factors change (mfa.Service.Notify and
// passkey.Service.Notify): a passkey or TOTP added or removed, a recovery code used, recovery
// codes renewed; the notice of a TOTP added carries its "this wasn't me" link (mfa.UndoTOTP); and
// when their sign-in addresses change (account.Service.Notify): an alternative address verified
// or removed. The mail goes to the primary address after the change committed, in the
// background, so a slow mail server never delays the person's request; a failure is logged.
type securityNotices struct {
	db      *store.DB
	mail    mail.Sender
	log     *slog.Logger
	baseURL string
	now     func() time.Time
	// undoTimes are the times the notice of an event states (mail.UndoTimes), read when each
	// is written: the operator's settings of the times (Server.noticeTimes).
	undoTimes func(mfa.Event) mail.UndoTimes
}

func (n *securityNotices) send(ctx context.Context, userID string, event mfa.Event, undo string) {
	n.deliver(ctx, userID, event, func(l *i18n.Locale, primary, base string, when time.Time) (mail.Message, bool) {
		if undo != "" {
			undo = base + mfa.UndoTOTPPath + "?token=" + url.QueryEscape(undo)
		}
		return mail.UndoableSecurityNotice(l, primary, string(event), when, base+"/dashboard", undo, n.undoTimes(event))
	})
}

// sendAddress is send for a change to the person's sign-in addresses (account.Service.Notify):
// the notice names about, the address added or removed, masked as the sign-in pages mask an
// address (oauth.MaskEmail); it goes to to instead of the primary address when to is set.
func (n *securityNotices) sendAddress(ctx context.Context, userID string, event mfa.Event, about, to string) {
	n.deliver(ctx, userID, event, func(l *i18n.Locale, primary, base string, when time.Time) (mail.Message, bool) {
		if to == "" {
			to = primary
		}
		if about != "" {
			about = oauth.MaskEmail(about)
		}
		return mail.AddressSecurityNotice(l, to, string(event), about, when, base+"/dashboard")
	})
}

// deliver writes the notice of event with compose, in the person's language, and sends it, in
// the background. The person is read now, in the request: the notice goes to the primary
// address of when the change was made, not to one a change made meanwhile set (an "address
// added" notice on its way when the primary address changed went to the new one).
func (n *securityNotices) deliver(ctx context.Context, userID string, event mfa.Event,
	compose func(l *i18n.Locale, primary, base string, when time.Time) (mail.Message, bool)) {
	when := n.now()
	u, err := n.db.User.Get(ctx, userID)
	if err != nil {
		n.log.WarnContext(ctx, "security notice: reading the person", "event", event, "err", err)
		return
	}
	run := func(ctx context.Context) {
		// The person's own request caused the change: their language, else the request's.
		m, ok := compose(i18n.ForPerson(ctx, u.Language), u.Email, strings.TrimRight(n.baseURL, "/"), when)
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

// noticeTimes are the times the security notice of event states, from the settings that
// enforce them: the authenticator app's undo link and removal delay, and how long the second
// step stays paused, the window of the rule whose wrong codes event tells of
// (KnownBrowserPaused: the browser's own, else the browsers new to the account).
func (s *Server) noticeTimes(event mfa.Event) mail.UndoTimes {
	t := mail.UndoTimes{Link: mfa.UndoTOTPTTL, Removal: s.mfa.UndoTOTPDelay, Pause: s.mfa.NewBrowserFailures.Window}
	if event == mfa.KnownBrowserPaused {
		t.Pause = s.mfa.KnownBrowserFailures.Window
	}
	return t
}
