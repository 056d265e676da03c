package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/oauth"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// appNotices mails the security notices of an application (portal.Service.Notify and
// team.Service.Notify): its client or webhook secret replaced, a setting that needs a recent
// sign-in changed, a member joined, a role changed, the ownership transferred. Each goes to the
// owner and the admins (team.NoticeRecipients), the actor among them included, in their own
// language, naming the application, what changed, who (the address the team sees for them,
// masked as the person's notices mask an address: oauth.MaskEmail) and when, and linking the
// application's portal page; never a secret or a new value. At most team.DefaultNotices per
// application an hour (rule), the last one saying so. Like securityNotices, it runs after
// the change committed, in the background: a slow or failing mail server never delays or
// fails the developer's request; a failure is logged.
type appNotices struct {
	db      *store.DB
	mail    mail.Sender
	log     *slog.Logger
	limiter *ratelimit.Limiter
	rule    ratelimit.Rule
	baseURL string
}

func (n *appNotices) send(ctx context.Context, notice team.Notice) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		n.deliver(ctx, notice)
	}()
}

func (n *appNotices) deliver(ctx context.Context, notice team.Notice) {
	fail := func(what string, err error) {
		n.log.WarnContext(ctx, "application notice: "+what, "event", notice.Event, "err", err)
	}
	ok, last, err := team.TakeNotice(ctx, n.limiter, n.rule, notice.ApplicationID)
	if err != nil {
		fail("counting", err)
		return
	}
	if !ok {
		return // the application's notices of this hour are spent; its activity log has the change
	}
	app, err := n.db.Application.Get(ctx, notice.ApplicationID)
	if err != nil {
		fail("reading the application", err)
		return
	}
	to, err := team.NoticeRecipients(ctx, n.db.Client, app)
	if err != nil {
		fail("reading the team", err)
		return
	}
	mask := func(uid string) (string, bool) {
		addr, err := team.TeamAddress(ctx, n.db.Client, app, uid)
		if err != nil {
			fail("reading a member", err)
			return "", false
		}
		if addr == "" {
			return "", true
		}
		return oauth.MaskEmail(addr), true
	}
	actor, ok := mask(notice.ActorID)
	if !ok {
		return
	}
	about := ""
	if notice.MemberID != "" {
		if about, ok = mask(notice.MemberID); !ok {
			return
		}
	}
	base := strings.TrimRight(n.baseURL, "/")
	for _, r := range to {
		// The actor's request caused the change: their language, else the request's; the
		// others' language, else English.
		lctx := context.Background()
		if r.UserID == notice.ActorID {
			lctx = ctx
		}
		m, ok := mail.AppSecurityNotice(i18n.ForPerson(lctx, r.Language), r.Email, mail.AppNotice{
			Event: string(notice.Event), App: app.Name, Actor: actor, About: about, Role: string(notice.Role),
			Settings: notice.Settings, When: notice.At, Link: base + "/portal/apps/" + app.ID, Last: last})
		if !ok {
			n.log.WarnContext(ctx, "application notice: unknown event", "event", notice.Event)
			return
		}
		if err := n.mail.Send(ctx, m); err != nil {
			fail("not sent", err)
		}
	}
}
