package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/oauth"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// appNotices mails the security notices of an application (portal.Service.Notify and
// team.Service.Notify): its client or webhook secret replaced, a setting that needs a recent
// sign-in changed, a member joined, left or was removed, a role changed, the ownership was
// proposed, withdrawn or transferred, its deletion began. Each goes to the owner and the admins
// (team.NoticeRecipients; for a deletion, read before it: team.Notice.Recipients), the actor
// among them included, and to the member it concerns (team.Notice.Concerned), each in their own
// language, naming the application, what changed, who (the address the team sees for them,
// masked as the person's notices mask an address: oauth.MaskEmail) and when, and linking the
// application's portal page; never a secret or a new value. At most team.DefaultNotices per
// application an hour (rule), the last one saying so; the ownership moving has a budget of its
// own and a deletion none (take), and the member concerned is told under one of their own
// (team.DefaultConcernedNotices), as is the member a replaced proposal was withdrawn from
// (team.Notice.Withdrawn). Like securityNotices, it runs after the change committed, in
// the background: a slow or failing mail server never delays or fails the developer's request;
// a failure is logged.
type appNotices struct {
	db      *store.DB
	mail    mail.Sender
	log     *slog.Logger
	limiter *ratelimit.Limiter
	// rule, ownerRule and concernedRule default to team.DefaultNotices,
	// team.DefaultOwnerNotices and team.DefaultConcernedNotices.
	rule, ownerRule, concernedRule ratelimit.Rule
	baseURL                        string
}

func (n *appNotices) send(ctx context.Context, notice team.Notice) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		n.deliver(ctx, notice)
	}()
}

// budget is the rule notice is counted under: the ownership moving has one of its own
// (team.DefaultOwnerNotices), the others share the application's (team.DefaultNotices). A
// deletion has none (it comes once per application).
func (n *appNotices) budget(notice team.Notice) ratelimit.Rule {
	if notice.Event == team.OwnerChanged {
		return n.ownerRule.Or(team.DefaultOwnerNotices)
	}
	return n.rule.Or(team.DefaultNotices)
}

// take counts notice against its budget.
func (n *appNotices) take(ctx context.Context, notice team.Notice) (send, last bool, err error) {
	if notice.Event == team.DeletionBegun {
		return true, false, nil
	}
	return team.TakeNotice(ctx, n.limiter, n.budget(notice), notice.ApplicationID)
}

// deliver mails notice to the owner and admins and to the member concerned, then, when it
// replaced a proposal pending to another member (team.Notice.Withdrawn), tells that member of
// the withdrawal, as the member concerned only.
func (n *appNotices) deliver(ctx context.Context, notice team.Notice) {
	n.tell(ctx, notice, true)
	if notice.Event == team.TransferProposed && notice.Withdrawn != "" && notice.Withdrawn != notice.Concerned {
		n.tell(ctx, team.Notice{Event: team.TransferCancelled, ApplicationID: notice.ApplicationID, ActorID: notice.ActorID,
			MemberID: notice.Withdrawn, Concerned: notice.Withdrawn, At: notice.At}, false)
	}
}

// tell mails notice: to the owner and admins when toTeam (within the notice's budget, take),
// and to the member concerned not among them (within their own).
func (n *appNotices) tell(ctx context.Context, notice team.Notice, toTeam bool) {
	fail := func(what string, err error) {
		n.log.WarnContext(ctx, "application notice: "+what, "event", notice.Event, "err", err)
	}
	send, last := false, false
	var err error
	if toTeam {
		if send, last, err = n.take(ctx, notice); err != nil {
			fail("counting", err)
			return
		}
	}
	if !send && notice.Concerned == "" {
		return // the application's notices of this hour are spent; its activity log has the change
	}
	// A deletion carries what it needs: the application and its team may be gone.
	app := &ent.Application{ID: notice.ApplicationID, Name: notice.AppName}
	to := notice.Recipients
	if notice.Event != team.DeletionBegun {
		if app, err = n.db.Application.Get(ctx, notice.ApplicationID); err != nil {
			fail("reading the application", err)
			return
		}
		to = nil
		if send {
			if to, err = team.NoticeRecipients(ctx, n.db.Client, app); err != nil {
				fail("reading the team", err)
				return
			}
		}
	}
	mask := func(uid, carried string) (string, bool) {
		addr := carried
		if addr == "" && notice.Event != team.DeletionBegun {
			if addr, err = team.TeamAddress(ctx, n.db.Client, app, uid); err != nil {
				fail("reading a member", err)
				return "", false
			}
		}
		if addr == "" {
			return "", true
		}
		return oauth.MaskEmail(addr), true
	}
	actor, ok := mask(notice.ActorID, notice.ActorAddress)
	if !ok {
		return
	}
	about := ""
	if notice.MemberID != "" {
		if about, ok = mask(notice.MemberID, notice.MemberAddress); !ok {
			return
		}
	}
	invitedBy := ""
	if notice.InvitedBy != "" {
		if invitedBy, ok = mask(notice.InvitedBy, ""); !ok {
			return
		}
	}
	base := strings.TrimRight(n.baseURL, "/")
	link := base + "/portal/apps/" + app.ID
	if notice.Event == team.DeletionBegun {
		link = base + "/portal/apps"
	}
	// How long the member proposed the ownership has, from what the code enforces.
	var within time.Duration
	if notice.Event == team.TransferProposed {
		within = team.TransferTTL
	}
	compose := func(r team.Recipient, link string, last, concerned bool) {
		// The actor's request caused the change: their language, else the request's; the
		// others' language, else English.
		lctx := context.Background()
		if r.UserID == notice.ActorID {
			lctx = ctx
		}
		m, ok := mail.AppSecurityNotice(i18n.ForPerson(lctx, r.Language), r.Email, mail.AppNotice{
			Event: string(notice.Event), App: app.Name, Actor: actor, About: about, Role: string(notice.Role),
			Settings: notice.Settings, When: notice.At, Link: link, Last: last, Concerned: concerned, Budget: n.budget(notice).Window, Within: within, InvitedBy: invitedBy})
		if !ok {
			n.log.WarnContext(ctx, "application notice: unknown event", "event", notice.Event)
			return
		}
		if err := n.mail.Send(ctx, m); err != nil {
			fail("not sent", err)
		}
	}
	told := false
	if send {
		for _, r := range to {
			concerned := r.UserID == notice.Concerned
			compose(r, link, last, concerned)
			told = told || concerned
		}
	}
	if notice.Concerned == "" || told {
		return
	}
	// The member the change is about, not (or no longer) among the owner and admins, or past
	// their budget: told under a budget of their own for this application, at their primary
	// address. A member removed no longer opens the application: the link is the portal's.
	// Counted as the application's are (team.TakeNotice: a store that cannot count lets it go).
	ok, _, err = team.TakeNotice(ctx, n.limiter, n.concernedRule.Or(team.DefaultConcernedNotices), notice.ApplicationID+":"+notice.Concerned)
	if err != nil {
		fail("counting", err)
		return
	}
	if !ok {
		return
	}
	u, err := n.db.User.Get(ctx, notice.Concerned)
	if store.NotFound(err) {
		return // their account closed meanwhile
	}
	if err != nil {
		fail("reading the member", err)
		return
	}
	if notice.Event == team.MemberRemovedFromTeam {
		link = base + "/portal/apps"
	}
	compose(team.Recipient{UserID: u.ID, Email: u.Email, Language: u.Language}, link, false, true)
}
