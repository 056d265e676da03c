package team

import (
	"context"
	"time"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/ent/user"
	"loginsign/internal/apperr"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// NoticeEvent names a security notice of an application (Notice): a change to who may act
// for it or to where its people and events go, which a stolen session of a member could
// otherwise make unnoticed. The values are the mail catalog's ("mail.app_notice.<event>").
type NoticeEvent string

// The security notices of an application.
const (
	// ClientSecretReplaced: the client secret was rotated (portal.RotateClientSecret).
	ClientSecretReplaced NoticeEvent = "app_client_secret"
	// WebhookSecretReplaced: the webhook signing secret was rotated
	// (portal.RotateWebhookSecret).
	WebhookSecretReplaced NoticeEvent = "app_webhook_secret"
	// RedirectsChanged: a setting that needs a recent sign-in changed (portal.UpdateApplication:
	// redirect or post-logout redirect URIs, allowed origins, webhook URL, back-channel logout
	// URI, pushed authorization requests no longer required); Notice.Settings names which.
	RedirectsChanged NoticeEvent = "app_redirects"
	// OwnerChanged: a member accepted the ownership transfer (AcceptTransfer); they are the
	// actor and the member.
	OwnerChanged NoticeEvent = "app_owner"
	// MemberJoinedTeam: a person accepted an invitation (Accept) with Notice.Role; the
	// member who sent it is Notice.InvitedBy.
	MemberJoinedTeam NoticeEvent = "app_member_joined"
	// MemberRoleChanged: a member's role was changed to Notice.Role (ChangeRole). An admin
	// demoted is Concerned: the notices of the application stop reaching them.
	MemberRoleChanged NoticeEvent = "app_member_role"
	// MemberRemovedFromTeam: the owner or an admin took a member off the team (Remove); the
	// member is Concerned: they lose access, and are told who removed them.
	MemberRemovedFromTeam NoticeEvent = "app_member_removed"
	// MemberLeftTeam: a member left the team (Leave); they are the actor and the member.
	MemberLeftTeam NoticeEvent = "app_member_left"
	// TransferProposed: the owner proposed the ownership to a member (ProposeTransfer), who is
	// Concerned: they have TransferTTL to accept or decline. A proposal it replaced, pending to
	// another member, is Withdrawn.
	TransferProposed NoticeEvent = "app_transfer_proposed"
	// TransferCancelled: the owner cancelled, or the member declined, the pending transfer
	// (CancelTransfer); the member it was proposed to is Concerned.
	TransferCancelled NoticeEvent = "app_transfer_cancelled"
	// DeletionBegun: the owner began deleting the application (portal.DeleteApplication):
	// told once, when it is first marked as being deleted. The application and its team may
	// be gone when it is mailed: it carries what the mail needs (Notice.AppName, Recipients,
	// ActorAddress). It counts against no budget: it comes once per application, and a thief
	// who spent the application's notices must not delete it unnoticed.
	DeletionBegun NoticeEvent = "app_deleting"
)

// Notice is a security notice of an application, given to Notify once its change committed.
// It goes to the application's owner and admins (NoticeRecipients), whoever made the change
// (the actor included, as the notices of a person's account do), at most DefaultNotices an
// hour per application (TakeNotice).
type Notice struct {
	Event         NoticeEvent
	ApplicationID string
	// ActorID is the signed-in person who made the change.
	ActorID string
	// MemberID is the member the change is about (who joined, whose role changed, the new
	// owner); Role their new role.
	MemberID string
	Role     Role
	// Settings are the settings RedirectsChanged changed ("redirect_uris"), never their values.
	Settings []string
	At       time.Time
	// Concerned is a person told besides the owner and admins, at their primary address: the
	// member removed, the admin demoted, the member a transfer was proposed to. Not among the
	// owner and admins (or when their notices of the hour are spent), they are told under a
	// budget of their own (DefaultConcernedNotices).
	Concerned string
	// InvitedBy, for MemberJoinedTeam, is the member who sent the invitation: the join's actor
	// is the person who joined, and the owner would not learn whose session brought them in.
	InvitedBy string
	// Withdrawn, for TransferProposed, is the member a pending transfer was proposed to before
	// this proposal replaced it: told of it as the Concerned of a TransferCancelled, under their
	// own budget only (the owner and admins are told of the new proposal).
	Withdrawn string
	// ActorAddress and MemberAddress are the addresses the team saw for the actor and the
	// member, read before the change when it takes them off the team (or the team away):
	// TeamAddress finds them no more when the notice is mailed. Empty: read then.
	ActorAddress, MemberAddress string
	// AppName and Recipients, for DeletionBegun, are the application's name and its owner and
	// admins, read before the deletion: the application may be gone when it is mailed.
	AppName    string
	Recipients []Recipient
}

// DefaultNotices bounds the security notices of one application: only its team makes the
// changes they tell of, but a member (or a thief with their session) changing allowed origins
// in a loop would otherwise mail the owner and every admin for each. The last notice of the
// window says so (TakeNotice); the changes after it are in the application's activity log.
var DefaultNotices = ratelimit.Rule{Name: "app-notices", N: 10, Window: time.Hour}

// DefaultOwnerNotices bounds the notices of an application's ownership moving (OwnerChanged),
// apart from DefaultNotices: a thief who spent that budget (ten redirect changes) could
// otherwise take the application over unnoticed. Each move needs the owner's proposal and the
// new owner's recent sign-in, so three an hour is more than people make.
var DefaultOwnerNotices = ratelimit.Rule{Name: "app-owner-notices", N: 3, Window: time.Hour}

// DefaultConcernedNotices bounds the notices one person receives as the Concerned of an
// application's changes (removed, demoted, proposed the ownership), keyed on the application
// and the person, apart from the application's budgets: a thief who spent those could
// otherwise remove or demote its admins unnoticed; an admin demoting and promoting a member
// in a loop mails them at most this.
var DefaultConcernedNotices = ratelimit.Rule{Name: "app-concerned-notices", N: 3, Window: time.Hour}

// TakeNotice counts one notice of appID under rule (default DefaultNotices): send is false
// past the limit, last true for exactly one of the notices it lets through in a window, the
// one that spends it. Both are counted atomically (a second counter, of the notices let
// through, to N-1): notices are sent concurrently, and a look at the first counter after
// taking could see it spent by a later notice and call two of them the last. A nil l counts
// nothing.
//
// A notice the store cannot count (apperr.DependencyDown: above all the embedded store's
// counters filling their half, which anyone with enough addresses brings about) is sent,
// uncounted and not the last: refused, it went unsent, so whoever filled the counters changed
// an application's redirects or secrets with a stolen session unnoticed. The change itself
// was counted (the developer's writes), which bounds the notices meanwhile.
func TakeNotice(ctx context.Context, l *ratelimit.Limiter, rule ratelimit.Rule, appID string) (send, last bool, err error) {
	if l == nil {
		return true, false, nil
	}
	rule = rule.Or(DefaultNotices)
	if err := l.Take(ctx, rule, appID); err != nil {
		if apperr.Is(err, apperr.RateLimited) {
			return false, false, nil
		}
		return apperr.DependencyDown(err), false, uncounted(err)
	}
	if rule.N <= 1 {
		return true, true, nil
	}
	sent := ratelimit.Rule{Name: rule.Name + "-sent", N: rule.N - 1, Window: rule.Window}
	if err := l.Take(ctx, sent, appID); err != nil {
		if apperr.Is(err, apperr.RateLimited) {
			return true, true, nil
		}
		return apperr.DependencyDown(err), false, uncounted(err)
	}
	return true, false, nil
}

// uncounted is the error TakeNotice returns for a count that failed: none for a store that
// could not count (the notice goes uncounted), err otherwise.
func uncounted(err error) error {
	if apperr.DependencyDown(err) {
		return nil
	}
	return err
}

// Recipient is one person a notice of an application goes to: their primary address, where
// their own security notices go, and their language setting.
type Recipient struct {
	UserID, Email, Language string
}

// NoticeRecipients are the people told of a security notice of app: its owner and its admins,
// who may themselves rotate its secrets and manage its team, and so answer for them (a
// developer or support member may not undo what they are told). Each is told once.
func NoticeRecipients(ctx context.Context, c *ent.Client, app *ent.Application) ([]Recipient, error) {
	ms, err := c.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.RoleEQ(appmember.RoleAdmin)).
		Order(ent.Asc(appmember.FieldCreatedAt), ent.Asc(appmember.FieldID)).Limit(MaxTeam).All(ctx)
	if err != nil {
		return nil, err
	}
	uids := []string{app.OwnerID}
	for _, m := range ms {
		if m.UserID != app.OwnerID {
			uids = append(uids, m.UserID)
		}
	}
	us, err := c.User.Query().Where(user.IDIn(uids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*ent.User{}
	for _, u := range us {
		byID[u.ID] = u
	}
	var out []Recipient
	for _, id := range uids {
		if u := byID[id]; u != nil {
			out = append(out, Recipient{UserID: u.ID, Email: u.Email, Language: u.Language})
		}
	}
	return out, nil
}

// TeamAddress is the address app's team sees for uid (Members): the owner's primary address,
// a member's address they joined with; "" when uid is not on the team (any more).
func TeamAddress(ctx context.Context, c *ent.Client, app *ent.Application, uid string) (string, error) {
	if uid == "" {
		return "", nil
	}
	if uid == app.OwnerID {
		u, err := c.User.Get(ctx, uid)
		if store.NotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return u.Email, nil
	}
	m, err := c.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.UserID(uid)).Only(ctx)
	if store.NotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return m.Email, nil
}

// notify gives n to Notify, when set, once its change has committed.
func (s *Service) notify(ctx context.Context, n Notice) {
	if s.Notify != nil {
		s.Notify(ctx, n)
	}
}
